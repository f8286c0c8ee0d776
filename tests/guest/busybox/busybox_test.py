#!/usr/bin/env python3
"""Debian's busybox-static inside the VM gives the host's output.

Each case runs one applet in a fresh VM (through the same path as
`capsule run --add`), and compares its stdout byte for byte with the same
applet run on the host on the same input files. The gzip case goes both
ways: the guest compresses and the host decompresses, and the host
compresses and the guest decompresses.

Usage: busybox_test.py --kernel build/capsule.elf --case NAME

File tools on a directory tree are in busybox_files.py (docs/busybox-tests.md).
"""
import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools", "capsule"))
from capsule_cli import cli, image, qemu  # noqa: E402

BUSYBOX = "/bin/busybox"

FRUITS = b"banana\napple\ncherry\napple\nbanana\nbanana\ndate\n"
NUMBERS = b"".join(b"%d %d\n" % (i, (i * 7919) % 101) for i in range(200))

# name -> applet argv (paths are guest paths; the host runs them in a
# directory holding the same files).
CASES = {
    "echo": ["echo", "hello", "capsule", "world"],
    "seq": ["seq", "3", "2", "15"],
    "expr": ["expr", "6", "*", "7"],
    "printf": ["printf", "%s-%05d-%x\\n", "abc", "42", "255"],
    "sha256sum": ["sha256sum", "/data/numbers.txt"],
    "md5sum": ["md5sum", "/data/fruits.txt"],
    "sort": ["sort", "/data/fruits.txt"],
    "sort_numeric": ["sort", "-k2", "-n", "-r", "/data/numbers.txt"],
    "uniq": ["uniq", "-c", "/data/sorted.txt"],
    "wc": ["wc", "/data/numbers.txt"],
    "awk": ["awk", "{ s += $2 } END { print s, NR }", "/data/numbers.txt"],
    "sed": ["sed", "-e", "s/a/A/g", "-e", "/cherry/d", "/data/fruits.txt"],
    "head_tail": ["tail", "-n", "3", "/data/numbers.txt"],
    "gzip": ["gzip", "-c", "/data/numbers.txt"],
    "gunzip": ["gunzip", "-c", "/data/numbers.txt.gz"],
}


def make_data(d):
    os.makedirs(d)
    with open(os.path.join(d, "fruits.txt"), "wb") as f:
        f.write(FRUITS)
    with open(os.path.join(d, "sorted.txt"), "wb") as f:
        f.write(b"".join(sorted(FRUITS.splitlines(keepends=True))))
    with open(os.path.join(d, "numbers.txt"), "wb") as f:
        f.write(NUMBERS)
    with open(os.path.join(d, "numbers.txt.gz"), "wb") as f:
        f.write(gzip.compress(NUMBERS, mtime=0))


def run_guest(kernel, work, data, argv, timeout):
    initrd, guest = image.static_program_initrd(BUSYBOX, work, [f"{data}:/data"])
    words = [guest] + argv
    # --log=error keeps kernel warnings off the program's output.
    cmdline = "--log=error -- " + " ".join(cli.quote_word(w) for w in words)
    status_file = os.path.join(work, "status")
    cmd = qemu.command(kernel, cmdline=cmdline, initrd=initrd, accel="tcg", status_file=status_file)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    status, problem = qemu.decode_status(r.returncode, status_file)
    return status, problem, r.stdout


def run_host(data, argv):
    # Guest paths /data/... become the host's data directory.
    host_argv = [a.replace("/data/", data + "/") for a in argv]
    r = subprocess.run([BUSYBOX] + host_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout.replace(data.encode() + b"/", b"/data/")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--case", required=True, choices=sorted(CASES))
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    if not os.path.exists(BUSYBOX):
        print(f"FAILED: {BUSYBOX} missing (Debian package busybox-static)")
        return 1
    work = tempfile.mkdtemp(prefix="capsule-bb-")
    try:
        data = os.path.join(work, "data")
        make_data(data)
        argv = CASES[a.case]
        status, problem, out = run_guest(a.kernel, work, data, argv, a.timeout)
        if problem:
            print(f"FAILED: {problem}")
            print(out[-2000:].decode(errors="replace"))
            return 1
        if a.case == "gzip":
            # The guest's gzip stream must decompress (on the host) to the input.
            try:
                got = gzip.decompress(out)
            except Exception as e:  # noqa: BLE001 - any decode error is the failure
                print(f"FAILED: guest gzip output does not decompress: {e}; {len(out)} bytes")
                return 1
            ok = status == 0 and got == NUMBERS
            print(f"{'ok' if ok else 'FAILED'}: guest gzip -> host gunzip round trip, {len(out)} bytes, status {status}")
            return 0 if ok else 1
        host_status, want = run_host(data, argv)
        if status != host_status or out != want:
            print(f"FAILED: {a.case}: guest status {status} (host {host_status})")
            print("--- guest ---")
            print(out[-1500:].decode(errors="replace"))
            print("--- host ---")
            print(want[-1500:].decode(errors="replace"))
            return 1
        print(f"ok: {a.case}: {len(out)} bytes identical to the host's, status {status}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
