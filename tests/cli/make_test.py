#!/usr/bin/env python3
"""guest.cli.make: `make -j4` compiling a small C project with Debian's gcc
inside the VM on 4 CPUs (issue 13: make, the gcc driver, cc1, as, collect2,
ld and ar are all processes the kernel forks, execs and waits for), then
the program it built runs in the same VM; its output and exit status must
be those of the same project built and run on the host.

The guest root is a --rootfs tree of the host's Debian packages (make,
gcc, libc6-dev, coreutils, dash and their dependency closure, as `capsule
run` resolves packages: capsule_cli/debpkg.py), made once under the build
directory and remade when dpkg's status file changes. Exit 77 (skip) when
the host lacks make, gcc or libc6-dev.

    make_test.py [--cpus N]
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

PROJECT = os.path.join(HERE, "make_project")
PACKAGES = ("make", "gcc", "libc6-dev", "coreutils", "dash")


def have_packages(db):
    return all(p in db.installed for p in PACKAGES)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpus", default="4")
    a = ap.parse_args()
    if not shutil.which("make") or not shutil.which("gcc"):
        print("SKIP: make or gcc missing on the host")
        return 77
    db = debpkg.Db()
    if not have_packages(db):
        print(f"SKIP: the host lacks one of the packages {PACKAGES}")
        return 77
    build = os.environ.get("CAPSULE_BUILD_DIR", os.path.join(ROOT, "build"))
    root = os.path.join(build, "make-rootfs")
    make_rootfs(db, root, PACKAGES)

    # The host's answer: the same project, make -j4, the program's output.
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        shutil.copytree(PROJECT, src)
        r = subprocess.run(["make", "-s", "-j4", "-C", src], capture_output=True, text=True)
        if r.returncode != 0:
            print("FAIL: make on the host:", r.stdout, r.stderr)
            return 1
        host = subprocess.run([os.path.join(src, "wordstat")], capture_output=True, text=True)
    print(f"host: status {host.returncode}, output:\n{host.stdout}", end="")

    # The VM: a fresh /src, make -j4, then the program it built.
    src = os.path.join(root, "src")
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(PROJECT, src)
    cmd = [CAPSULE, "run", "--cpus", a.cpus, "--mem", "1G", "--rootfs", root,
           "/usr/bin/make", "-s", "-j4", "-C", "/src", ";", "/src/wordstat"]
    try:
        vm = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        print("FAIL: the VM did not finish in 240 s")
        return 1
    print(f"vm: status {vm.returncode}, output:\n{vm.stdout}", end="")
    ok = True
    if vm.returncode != host.returncode or vm.stdout != host.stdout:
        print("FAIL: the VM's make + run differs from the host's")
        ok = False
    if "wordstat 1.0:" not in vm.stdout:
        print("FAIL: the program built in the VM did not run")
        ok = False
    if not ok:
        print("---- stderr of capsule run\n" + vm.stderr[-4000:])
        return 1
    print("PASS make")
    return 0


if __name__ == "__main__":
    sys.exit(main())
