# busybox: Debian's busybox-static, with /bin/sh and the usual applet names
# pointing at it.
packages = ["busybox-static"]

APPLETS = ["sh", "ls", "cat", "echo", "env", "mkdir", "rm", "cp", "mv", "ps", "uname", "sleep", "vi", "wc",
           "grep", "sed", "awk", "find", "head", "tail", "sort", "du", "df", "pwd", "true", "false"]


def files(m):
    m.add_host("/bin/busybox")
    for a in APPLETS:
        m.add_symlink("/usr/local/bin/" + a, "/bin/busybox")


configs = {
    "default": Run(argv=["/bin/busybox", "ls", "-l", "/"]),
    "shell": Run(argv=["/bin/busybox", "sh"]),
}
