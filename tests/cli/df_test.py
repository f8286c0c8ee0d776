#!/usr/bin/env python3
"""guest.cli.df: Debian's df (coreutils) in the VM reports figures for
/dev/shm (a tmpfs: half of guest memory) that follow what is written:
10 MiB written is 10240 KiB used, a 4 GiB sparse file costs nothing,
removing the file gives the space back, and each file is one inode
(docs/vfs.md "Sparse files and space"). Exit 77 (skip) when the host
lacks df, head, truncate or dash.

    df_test.py
"""
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import CAPSULE  # noqa: E402

TIMEOUT = 240
MEM_MIB = 256
TOOLS = ("df", "head", "truncate", "rm")
SCRIPT = ("df -k /dev/shm; head -c 10485760 /dev/zero > /dev/shm/x; df -k /dev/shm; "
          "truncate -s 4G /dev/shm/y; df -k /dev/shm; df -i /dev/shm; rm /dev/shm/x /dev/shm/y; df -k /dev/shm")


def figures(out):
    """The /dev/shm lines in order: (size, used, available) of the four
    `df -k` reports, and (inodes, iused, ifree) of the `df -i` one (4th)."""
    reports = []
    for line in out.splitlines():
        m = re.match(r"^tmpfs\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+/dev/shm$", line)
        if m:
            reports.append(tuple(int(g) for g in m.groups()))
    if len(reports) != 5:
        return reports, []
    return reports[:3] + reports[4:], [reports[3]]


def main():
    paths = {t: shutil.which(t) for t in TOOLS + ("dash",)}
    if not all(paths.values()):
        print(f"SKIP: the host lacks one of {TOOLS + ('dash',)}")
        return 77
    cmd = [CAPSULE, "run", "--mem", f"{MEM_MIB}M", "--env", "PATH=/usr/bin:/bin"]
    for t in TOOLS:
        real = os.path.realpath(paths[t])
        cmd += ["--add", f"{real}:/usr/bin/{t}"]
    cmd += [paths["dash"], "-c", SCRIPT]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    print("$", " ".join(cmd), f"-> {r.returncode}")
    sys.stdout.write(r.stdout)
    sys.stdout.write("stderr: " + r.stderr)
    k, i = figures(r.stdout)
    ok = r.returncode == 0
    if len(k) != 4 or len(i) != 1:
        print(f"FAIL: expected 4 df -k and 1 df -i reports for /dev/shm, got {k} {i}")
        return 1
    start, written, sparse, end = k
    checks = [
        (start[1] == 0, "empty at first"),
        (all(b == u + a for b, u, a in k), "used + available = size, every time"),
        (MEM_MIB * 1024 // 2 * 0.9 <= start[0] <= MEM_MIB * 1024 // 2, "size: half of guest memory"),
        (written[1] == 10240 and written[2] == start[2] - 10240, "10 MiB written: 10240 KiB used"),
        (sparse == written, "a 4 GiB sparse file costs nothing"),
        (i[0][1] == 3, "three inodes: the root and two files"),
        (end == start, "all back after rm"),
    ]
    for good, what in checks:
        if not good:
            print("FAIL:", what)
            ok = False
    print("PASS df" if ok else "FAIL df")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
