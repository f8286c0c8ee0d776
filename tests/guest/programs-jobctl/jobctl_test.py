#!/usr/bin/env python3
"""Job control on the console (docs/process.md "Job control"): jobctl.c run
on a pseudo-terminal, first natively (the checks are Linux's), then in the
VM through the CLI (`capsule run`, whose console is then a terminal).

Usage: jobctl_test.py --capsule ./capsule --program build/.../jobctl [--cpus N]
"""
import argparse
import os
import pty
import select
import sys
import time

TIMEOUT = 180


def run_on_pty(argv):
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    out = b""
    end = time.time() + TIMEOUT
    while time.time() < end:
        rd, _, _ = select.select([fd], [], [], 0.5)
        if not rd:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                return out, os.waitstatus_to_exitcode(st)
            continue
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    else:
        os.kill(pid, 9)
    _, st = os.waitpid(pid, 0)
    return out, os.waitstatus_to_exitcode(st)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capsule", required=True)
    ap.add_argument("--program", required=True)
    ap.add_argument("--cpus", default="1")
    a = ap.parse_args()
    ok = True
    for where, argv in (("host", [a.program]),
                        ("vm", [a.capsule, "run", "--accel", "tcg", "--cpus", a.cpus, a.program])):
        out, status = run_on_pty(argv)
        text = out.decode(errors="replace")
        good = status == 0 and "PASS jobctl" in text and "FAIL" not in text
        print(f"{'ok' if good else 'FAILED'} {where}: status {status}")
        print(text[-3000:])
        ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
