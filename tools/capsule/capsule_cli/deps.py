"""Debian packages each subcommand needs, installed on demand.

Idempotent: dpkg-query first, apt-get only for what is missing, and it says
what it installs. Nothing comes from anywhere but Debian's archive.
"""
import os
import subprocess
import sys

PACKAGES = {
    "build": ["cmake", "ninja-build", "g++", "binutils", "python3"],
    "run": ["qemu-system-x86"],
    # capsule disk create: mke2fs -t ext4 -d DIR (docs/block.md).
    "disk": ["e2fsprogs"],
    # The Debian programs the dynamic-loading tests run in the VM and compare
    # with the host (tests/guest/dynamic.cmake).
    "test": ["googletest", "libgtest-dev", "busybox-static", "musl-tools", "cpio",
             "python3", "perl", "sqlite3", "lua5.4", "gawk", "jq", "bc", "xz-utils", "zstd",
             "openssl", "bzip2",
             # TCP with the host: curl on both sides; iproute2's ip and
             # hostname over netlink (tests/cli/net_test.py).
             "curl", "iproute2", "hostname",
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
             # lint.thread_safety runs clang's -Wthread-safety over the kernel
             # (tests/lint/thread_safety.py).
             "clang"],
}


def missing(packages):
    """One dpkg-query for all of them: it is on every `capsule run`."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Status}\n", *packages],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    installed = set()
    for line in r.stdout.splitlines():
        name, _, status = line.partition(" ")
        if status.endswith("install ok installed"):
            installed.add(name.split(":")[0])
    return [p for p in packages if p not in installed]


def ensure(packages):
    todo = missing(packages)
    if not todo:
        return
    print(f"capsule: installing {' '.join(todo)} (apt-get)", file=sys.stderr)
    if os.geteuid() != 0:
        sys.exit(f"capsule: need root to install {' '.join(todo)}; "
                 f"run: sudo apt-get install {' '.join(todo)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *todo]
    if subprocess.run(install, env=env, stdout=sys.stderr).returncode != 0:
        # Package lists may be missing or stale on a fresh machine.
        subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=sys.stderr, check=True)
        subprocess.run(install, env=env, stdout=sys.stderr, check=True)


def ensure_for(*commands):
    pkgs = []
    for c in commands:
        pkgs += PACKAGES[c]
    ensure(pkgs)
