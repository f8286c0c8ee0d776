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

PROJECT = os.path.join(HERE, "make_project")
PACKAGES = ("make", "gcc", "libc6-dev", "coreutils", "dash")
STATUS = "/var/lib/dpkg/status"


def have_packages(db):
    return all(p in db.installed for p in PACKAGES)


def make_rootfs(db, root):
    """The packages' files at their paths, Debian's merged /usr kept
    (/bin, /lib, /lib64, /sbin are links into /usr)."""
    stamp = os.path.join(root, ".dpkg-status")
    want = str(os.stat(STATUS).st_mtime_ns)
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    shutil.rmtree(root, ignore_errors=True)
    for d in ("usr/bin", "usr/lib", "usr/lib64", "usr/sbin", "tmp"):
        os.makedirs(os.path.join(root, d))
    for d in ("bin", "lib", "lib64", "sbin"):
        os.symlink("usr/" + d, os.path.join(root, d))
    for name, _ in db.closure([(p, "make_test") for p in PACKAGES]):
        for path in db.files(name) or []:
            dst = root + path
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.lexists(dst):
                continue
            if os.path.islink(path):
                os.symlink(os.readlink(path), dst)
            elif os.path.isfile(path):
                shutil.copy2(path, dst)
    # /bin/sh is dash's by a diversion-free link Debian makes at install time.
    if not os.path.lexists(os.path.join(root, "usr/bin/sh")):
        os.symlink("dash", os.path.join(root, "usr/bin/sh"))
    with open(stamp, "w") as f:
        f.write(want)


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
    make_rootfs(db, root)

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
