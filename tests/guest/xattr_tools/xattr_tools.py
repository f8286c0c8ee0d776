#!/usr/bin/env python3
"""Debian's file tools with extended attributes, in the VM and on the host.

Each case is a sequence of commands (";"-separated on the kernel command
line, docs/cmdline.md) over a small tree packed at /data: setfattr sets
user.* attributes and an ACL, then cp -a, tar --xattrs, ls -l and getfattr
run on it. The same commands run on the host over a copy of the tree on a
tmpfs (/dev/shm, what ramfs stands for); stdout and the exit status must
be equal, paths mapped back. Programs not installed (attr's getfattr and
setfattr, tar) skip the case (exit 77).

Usage: xattr_tools.py --kernel build/capsule.elf --case NAME
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "dynamic"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools", "capsule"))
from capsule_cli import cli, cpio, qemu  # noqa: E402
from dynamic_test import libraries  # noqa: E402

SKIP = 77

# An extended POSIX ACL (user 1000 r--, mask r--) in its xattr form.
ACL = ("0x02000000" "01000600ffffffff" "02000400e8030000" "04000400ffffffff"
       "10000400ffffffff" "20000000ffffffff")

SET = [
    ["setfattr", "-n", "user.color", "-v", "blue", "/data/f1"],
    ["setfattr", "-n", "user.bin", "-v", "0x00ff10", "/data/f1"],
    ["setfattr", "-n", "trusted.t", "-v", "T", "/data/f2"],
    ["setfattr", "-n", "user.dir", "-v", "d", "/data/dir"],
]
FILES = ["f1", "f2", "dir", "link"]


def listing(base):
    # Numeric ids (the guest has no passwd), times as seconds.
    return [["ls", "-ldn", "--time-style=+%s"] + [f"{base}/{f}" for f in FILES]]


def attrs(base):
    return [["getfattr", "--absolute-names", "-h", "-d", "-m", "-", "-e", "hex"] + [f"{base}/{f}" for f in FILES]]


CASES = {
    # ls -l on files with attributes, one with an ACL ("+" after the mode).
    "ls_l": SET + [["setfattr", "-n", "system.posix_acl_access", "-v", ACL, "/data/f2"]]
    + listing("/data") + attrs("/data"),
    # cp -a keeps the attributes (and the ACL), getfattr shows them.
    "cp_a": SET + [["setfattr", "-n", "system.posix_acl_access", "-v", ACL, "/data/f2"],
                   ["cp", "-a", "/data", "/tmp/c"]] + listing("/tmp/c") + attrs("/tmp/c"),
    # tar --xattrs round trip.
    "tar_xattrs": SET + [["tar", "--xattrs", "--xattrs-include=*", "-cf", "/tmp/a.tar", "-C", "/data", "."],
                         ["mkdir", "/tmp/x"],
                         ["tar", "--xattrs", "--xattrs-include=*", "-xpf", "/tmp/a.tar", "-C", "/tmp/x"]]
    + listing("/tmp/x") + attrs("/tmp/x"),
}


def make_tree(d):
    os.makedirs(os.path.join(d, "dir"))
    with open(os.path.join(d, "f1"), "w") as f:
        f.write("one\n")
    with open(os.path.join(d, "f2"), "w") as f:
        f.write("two two\n")
    os.chmod(os.path.join(d, "f1"), 0o644)
    os.chmod(os.path.join(d, "f2"), 0o640)
    os.chmod(os.path.join(d, "dir"), 0o755)
    os.symlink("f1", os.path.join(d, "link"))
    for p in ("f1", "f2", "dir", "link", "."):
        os.utime(os.path.join(d, p), (0, 0), follow_symlinks=False)


def run_host(cmds, data, tmp):
    """The commands on the host, /data and /tmp mapped to scratch dirs."""
    out = b""
    for c in cmds:
        argv = [a.replace("/data", data).replace("/tmp/", tmp + "/") for a in c]
        r = subprocess.run([shutil.which(argv[0])] + argv[1:], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, env={"PATH": os.environ.get("PATH", "/usr/bin")})
        out += r.stdout
        if r.returncode:
            return r.returncode, out
    return 0, out.replace(data.encode(), b"/data").replace((tmp + "/").encode(), b"/tmp/")


def run_guest(kernel, work, cmds, data, timeout):
    progs = {c[0]: os.path.abspath(shutil.which(c[0])) for c in cmds}
    tmp = os.path.join(work, "tmp")
    os.makedirs(tmp, exist_ok=True)
    pairs = [(data, "/data"), (tmp, "/tmp")]
    for p in progs.values():
        pairs += [(os.path.realpath(p), p)] + libraries(p)
    seen = {g: h for h, g in pairs}
    initrd = os.path.join(work, "initrd.cpio")
    cpio.write_file(initrd, cpio.map_entries(list((h, g) for g, h in seen.items()), mtime=0))
    words = []
    for c in cmds:
        if words:
            words.append(";")
        words += [progs[c[0]]] + c[1:]
    cmdline = "--log=error -- " + " ".join(cli.quote_word(w) for w in words)
    status_file = os.path.join(work, "status")
    cmd = qemu.command(kernel, cmdline=cmdline, initrd=initrd, accel="tcg", status_file=status_file,
                       cpus="1", mem="256M")
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    status, problem = qemu.decode_status(r.returncode, status_file)
    return status, problem, r.stdout


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--case", required=True, choices=sorted(CASES))
    p.add_argument("--timeout", type=float, default=150)
    a = p.parse_args()
    cmds = CASES[a.case]
    for c in cmds:
        if not shutil.which(c[0]):
            print(f"{c[0]} is not installed (Debian package attr / tar): skipped")
            return SKIP
    if not os.path.isdir("/dev/shm"):
        print("no /dev/shm on the host: skipped")
        return SKIP
    work = tempfile.mkdtemp(prefix="capsule-xattr-")
    host = tempfile.mkdtemp(prefix="capsule-xattr-", dir="/dev/shm")
    try:
        data = os.path.join(work, "data")
        make_tree(data)
        hdata = os.path.join(host, "data")
        htmp = os.path.join(host, "tmp")
        os.makedirs(htmp)
        make_tree(hdata)
        hstatus, hout = run_host(cmds, hdata, htmp)
        status, problem, out = run_guest(a.kernel, work, cmds, data, a.timeout)
        bad = [problem] if problem else []
        if status != hstatus:
            bad.append(f"exit status {status}, the host's {hstatus}")
        if out != hout:
            bad.append("output differs from the host's")
        if bad:
            print("\n".join(bad))
            print("--- host ---")
            print(hout.decode(errors="replace")[-3000:])
            print("--- guest ---")
            print(out.decode(errors="replace")[-3000:])
            return 1
        print(out.decode(errors="replace"))
        print(f"{a.case}: {len(out)} bytes, same as the host")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(host, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
