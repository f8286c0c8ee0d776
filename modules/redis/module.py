# redis: Debian's redis-server (7.0). redis-tools carries the server:
# /usr/bin/redis-check-rdb is the one binary, and argv[0] ending in
# redis-server makes it the server (redis-server, the package, only adds the
# symlink and the init scripts). No persistence (--save "", no AOF), in the
# foreground, on every IPv4 address without protected mode: clients come
# through QEMU's user network from 10.0.2.2, not from loopback.
# `capsule run --module redis -p 6379:6379`, then redis-cli on the host.
packages = ["redis-tools"]


def files(m):
    m.add_program("/usr/bin/redis-check-rdb")
    m.add_symlink("/usr/bin/redis-server", "redis-check-rdb")
    m.add_dir("/var/lib/redis")


configs = {
    "default": Run(argv=["/usr/bin/redis-server", "--bind", "0.0.0.0", "--port", "6379",
                         "--protected-mode", "no", "--save", "", "--appendonly", "no",
                         "--daemonize", "no", "--dir", "/var/lib/redis"],
                   mem="256M"),
}
