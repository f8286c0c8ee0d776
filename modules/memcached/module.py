# memcached: Debian's memcached (1.6) in the foreground on TCP port 11211,
# UDP off (as Debian's own default), 64 MB of cache, 4 worker threads.
# memcached refuses to run as root unless -u names a user: root it is (the
# VM has one program; there is nobody to drop privileges for).
# `capsule run --module memcached -p 11211:11211`.
packages = ["memcached"]


def files(m):
    m.add_program("/usr/bin/memcached")


configs = {
    "default": Run(argv=["/usr/bin/memcached", "-u", "root", "-p", "11211", "-U", "0",
                         "-l", "0.0.0.0", "-m", "64", "-t", "4"],
                   mem="256M"),
    "verbose": Run(argv=["/usr/bin/memcached", "-u", "root", "-p", "11211", "-U", "0",
                         "-l", "0.0.0.0", "-m", "64", "-t", "4", "-vv"],
                   mem="256M"),
}
