"""Debian packages each subcommand needs, installed on demand.

Idempotent: dpkg-query first, apt-get only for what is missing, and it says
what it installs. Nothing comes from anywhere but Debian's archive.
"""
import os
import sys

PACKAGES = {
    "build": ["cmake", "ninja-build", "g++", "binutils", "python3"],
    "run": ["qemu-system-x86"],
    # capsule disk create: mke2fs -t ext4 -d DIR (docs/block.md); a large
    # image's root disk (rootdisk.py: mke2fs, debugfs).
    "disk": ["e2fsprogs"],
    # The Debian programs the dynamic-loading tests run in the VM and compare
    # with the host (tests/guest/dynamic.cmake).
    "test": ["googletest", "libgtest-dev", "busybox-static", "musl-tools", "cpio",
             "python3", "perl", "sqlite3", "lua5.4", "gawk", "jq", "bc", "xz-utils", "zstd",
             "openssl", "bzip2",
             # TCP with the host: curl on both sides; iproute2's ip and
             # hostname over netlink (tests/cli/net_test.py).
             "curl", "iproute2", "hostname",
             # ping sockets and raw ICMP: iputils' ping in the VM (tests/cli/ping_test.py).
             "iputils-ping",
             # Extended attributes with Debian's tools (tests/guest/xattr_tools.cmake).
             "attr", "tar",
             # ext4 images for the disk tests (tests/guest/disk.cmake).
             "e2fsprogs",
             # The --strace tests compare with the host's strace
             # (tests/cli/strace_test.py).
             "strace",
             # capsule run --gdb's tests drive gdb in batch mode (tests/cli/gdb_test.py).
             "gdb",
             # make -j4 with gcc inside the VM (tests/cli/make_test.py).
             "make",
             # PostgreSQL in the VM (tests/cli/postgres_test.py).
             "postgresql-15",
             # inotifywait in the VM (tests/cli/inotify_test.py).
             "inotify-tools",
             # Servers in the VM answering the host's clients (modules redis,
             # nginx, memcached; tests/cli/{redis,nginx,memcached}_test.py):
             # redis-tools has redis-server's binary and redis-cli/-benchmark.
             "redis-tools", "nginx-light", "memcached",
             # lint.thread_safety runs clang's -Wthread-safety over the kernel
             # (tests/lint/thread_safety.py).
             "clang"],
}


def missing(packages):
    """One dpkg-query for all of them: it is on every `capsule run`."""
    import subprocess
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Status}\n", *packages],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    installed = set()
    for line in r.stdout.splitlines():
        name, _, status = line.partition(" ")
        if status.endswith("install ok installed"):
            installed.add(name.split(":")[0])
    return [p for p in packages if p not in installed]


DPKG_DB = "/var/lib/dpkg"


def _dpkg_state():
    """dpkg's database as stat sees it: it rewrites status (and journals
    in updates/) on every install or removal, so an equal state means the
    same packages are installed."""
    parts = []
    for p in (os.path.join(DPKG_DB, "status"), os.path.join(DPKG_DB, "updates")):
        try:
            st = os.stat(p)
        except OSError:
            return None
        parts.append(f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}")
    return " ".join(parts)


def _stamp():
    from . import imagecache
    return os.path.join(imagecache.cache_dir(), "packages-ok")


def _known_installed(packages, state):
    """True when a check since dpkg's last change found all of `packages`."""
    if state is None:
        return False
    try:
        with open(_stamp()) as f:
            first, _, rest = f.read().partition("\n")
    except OSError:
        return False
    return first == state and set(packages) <= set(rest.split())


def _remember(packages, state):
    if state is None:
        return
    path = _stamp()
    try:
        with open(path) as f:
            first, _, rest = f.read().partition("\n")
        known = set(rest.split()) if first == state else set()
    except OSError:
        known = set()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w") as f:
            f.write(state + "\n" + " ".join(sorted(known | set(packages))))
        os.replace(tmp, path)
    except OSError:
        pass


def ensure(packages):
    # A cached run asks dpkg-query nothing: the packages were all there at
    # the last check and dpkg's database has not changed since.
    state = _dpkg_state()
    if _known_installed(packages, state):
        return
    todo = missing(packages)
    if not todo:
        _remember(packages, state)
        return
    print(f"capsule: installing {' '.join(todo)} (apt-get)", file=sys.stderr)
    if os.geteuid() != 0:
        sys.exit(f"capsule: need root to install {' '.join(todo)}; "
                 f"run: sudo apt-get install {' '.join(todo)}")
    import subprocess
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *todo]
    with _no_service_starts():
        if subprocess.run(install, env=env, stdout=sys.stderr).returncode != 0:
            # Package lists may be missing or stale on a fresh machine.
            subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=sys.stderr, check=True)
            subprocess.run(install, env=env, stdout=sys.stderr, check=True)


POLICY_RC_D = "/usr/sbin/policy-rc.d"


class _no_service_starts:
    """Server packages (redis, nginx, memcached, postgresql) start their
    service from postinst through invoke-rc.d; Capsule only wants their
    files. While apt-get runs, a policy-rc.d that says 101 ("action
    forbidden", invoke-rc.d(8)) keeps them from starting on the host; one
    the machine already has is left alone."""

    def __enter__(self):
        self.made = False
        if not os.path.lexists(POLICY_RC_D):
            try:
                with open(POLICY_RC_D, "w") as f:
                    f.write("#!/bin/sh\n# capsule: no service starts while it installs packages\nexit 101\n")
                os.chmod(POLICY_RC_D, 0o755)
                self.made = True
            except OSError:
                pass
        return self

    def __exit__(self, *exc):
        if self.made:
            try:
                os.unlink(POLICY_RC_D)
            except OSError:
                pass
        return False


def ensure_for(*commands):
    pkgs = []
    for c in commands:
        pkgs += PACKAGES[c]
    ensure(pkgs)
