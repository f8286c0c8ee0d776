# hello: the bundled demo, a static hello world built from hello.c.
# `./capsule run` with no program boots this module's default config.
requires = []


def files(m):
    m.compile_c("hello.c", "/hello")


configs = {"default": Run(argv=["/hello"])}
