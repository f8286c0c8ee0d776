# python3: Debian's CPython 3 (python3.11 on Debian 12) with its standard
# library, lib-dynload extension modules and the libraries they load.
packages = ["python3-minimal", "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib"]


def files(m):
    m.add_program("/usr/bin/python3.11")
    m.add_symlink("/usr/bin/python3", "python3.11")
    for p in ["python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib"]:
        m.add_package(p)


configs = {
    "default": Run(argv=["/usr/bin/python3", "-c",
                         "import sys, platform; print('Python', sys.version.split()[0], 'on', platform.system())"],
                   env={"PYTHONDONTWRITEBYTECODE": "1"}),
    "repl": Run(argv=["/usr/bin/python3", "-i"], env={"PYTHONDONTWRITEBYTECODE": "1"}),
}
