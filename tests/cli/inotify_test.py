#!/usr/bin/env python3
"""guest.cli.inotify: Debian's inotifywait (inotify-tools) in the VM,
watching two directories while the program's shell (dash) creates,
writes, chmods, moves, links and deletes files in them; the events it
prints must be the ones the same script prints on the host (docs/inotify.md).

The guest root is a --rootfs tree of the host's packages (inotify-tools,
dash, coreutils, grep, sed and their closure: tests/cli/package_root.py),
made once under the build directory. Exit 77 (skip) when the host lacks
inotify-tools (`capsule test` installs it: the "test" dependencies).

    inotify_test.py [--cpus N]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import CAPSULE, ROOT  # noqa: E402
from capsule_cli import debpkg  # noqa: E402
from package_root import make_rootfs  # noqa: E402

PACKAGES = ("inotify-tools", "dash", "coreutils", "grep", "sed")
SCRIPT = os.path.join(HERE, "inotify", "watch.sh")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpus", default="2")
    a = ap.parse_args()
    if not shutil.which("inotifywait"):
        print("SKIP: inotifywait (Debian package inotify-tools) missing on the host")
        return 77
    db = debpkg.Db()
    if not all(p in db.installed for p in PACKAGES):
        print(f"SKIP: the host lacks one of the packages {PACKAGES}")
        return 77
    build = os.environ.get("CAPSULE_BUILD_DIR", os.path.join(ROOT, "build"))
    root = os.path.join(build, "inotify-rootfs")
    make_rootfs(db, root, PACKAGES)

    with tempfile.TemporaryDirectory() as d:
        host = subprocess.run(["dash", SCRIPT, d], capture_output=True, text=True, timeout=120)
    print(f"host: status {host.returncode}, output:\n{host.stdout}", end="")
    if host.returncode != 0 or "CREATE W/end" not in host.stdout:
        print("FAIL: the script fails on the host:", host.stderr)
        return 1

    os.makedirs(os.path.join(root, "src"), exist_ok=True)
    shutil.copy(SCRIPT, os.path.join(root, "src", "watch.sh"))
    cmd = [CAPSULE, "run", "--cpus", a.cpus, "--mem", "512M", "--rootfs", root,
           "/bin/sh", "/src/watch.sh", "/tmp"]
    try:
        vm = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        print("FAIL: the VM did not finish in 240 s")
        return 1
    print(f"vm: status {vm.returncode}, output:\n{vm.stdout}", end="")
    if vm.returncode != host.returncode or vm.stdout != host.stdout:
        print("FAIL: inotifywait's events in the VM differ from the host's")
        print("---- stderr of capsule run\n" + vm.stderr[-4000:])
        return 1
    print("PASS inotify")
    return 0


if __name__ == "__main__":
    sys.exit(main())
