# lua: the Lua 5.4 interpreter (Debian's lua5.4).
packages = ["lua5.4"]


def files(m):
    m.add_package("lua5.4")
    m.add_symlink("/usr/bin/lua", "lua5.4")


configs = {
    "default": Run(argv=["/usr/bin/lua5.4", "-e", "print(_VERSION .. ' on Capsule', 6 * 7)"]),
    "repl": Run(argv=["/usr/bin/lua5.4", "-i"]),
}
