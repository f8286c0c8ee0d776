#!/usr/bin/env python3
"""Boots the kernel once and checks what it printed and how it exited.

Used by ctest (tests/guest/CMakeLists.txt). On failure it says why and shows
the tail of the serial output.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "capsule"))
from capsule_cli import cli, image, qemu  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--status", type=int, default=0)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--machine", default="microvm")
    p.add_argument("--cpus", default="1")
    p.add_argument("--mem", default="128M")
    p.add_argument("--cmdline", default="")
    p.add_argument("--net", default=None, help="user, none, tap:NAME (qemu.net_args)")
    p.add_argument("--publish", action="append", default=[], help="HOSTPORT:GUESTPORT[/udp]")
    p.add_argument("--disk", action="append", default=[], help="FILE[:/MOUNTPOINT][:ro][:nvme] (qemu.disk_args)")
    p.add_argument("--expect", action="append", default=[])
    p.add_argument("--reject", action="append", default=[])
    p.add_argument("--tsc-tolerance", type=float, default=None,
                   help="percent: the kernel's 'tsc: calibrated ...: N kHz' must be this close "
                        "to the host's TSC rate")
    p.add_argument("--program", help="a static program to pack into an initrd and run")
    p.add_argument("--add", action="append", default=[], help="HOST[:GUEST] files for the initrd")
    p.add_argument("--args", nargs=argparse.REMAINDER, default=[],
                   help="the program's arguments (must come last)")
    a = p.parse_args()

    work = tempfile.mkdtemp(prefix="capsule-guest-")
    try:
        return run(a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(a, work):
    cmdline = a.cmdline
    initrd = None
    if a.program:
        initrd, guest = image.static_program_initrd(a.program, work, a.add)
        words = [guest] + list(a.args)
        cmdline = (cmdline + " -- " + " ".join(cli.quote_word(w) for w in words)).strip()
    status_file = os.path.join(work, "status")
    cmd = qemu.command(a.kernel, machine=a.machine, mem=a.mem, cpus=a.cpus, accel="tcg",
                       cmdline=cmdline, initrd=initrd, status_file=status_file,
                       net=a.net, publish=a.publish, disks=a.disk)
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=a.timeout)
        out = r.stdout.decode(errors="replace")
        rc = r.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        return fail(f"timed out after {a.timeout:.0f} s", out, cmd)

    problems = []
    status, problem = qemu.decode_status(rc, status_file)
    if problem:
        problems.append(problem)
    elif status != a.status:
        problems.append(f"guest exit status {status}, expected {a.status}")
    pos = 0
    for e in a.expect:
        m = re.compile(e, re.M).search(out, pos)
        if not m:
            where = "after the previous expectation" if pos else "in the output"
            problems.append(f"expected /{e}/ {where}")
        else:
            pos = m.end()
    for rj in a.reject:
        if re.search(rj, out, re.M):
            problems.append(f"unexpected /{rj}/ in the output")
    if a.tsc_tolerance is not None:
        m = re.search(r"tsc: calibrated against the \w+: (\d+) kHz", out)
        host = qemu.host_tsc_khz()
        if not m:
            problems.append("no 'tsc: calibrated against ...: N kHz' line")
        elif not host:
            problems.append("the host's TSC rate is unknown (/proc/cpuinfo)")
        else:
            guest = int(m.group(1))
            off = abs(guest - host) * 100.0 / host
            if off > a.tsc_tolerance:
                problems.append(f"calibrated TSC {guest} kHz is {off:.2f}% off the host's "
                                f"{host} kHz (tolerance {a.tsc_tolerance}%)")
            else:
                print(f"tsc: guest {guest} kHz, host {host} kHz ({off:.3f}% apart)")
    if problems:
        return fail("; ".join(problems), out, cmd)
    print(f"ok (status {status})")
    return 0


def fail(why, out, cmd):
    print("FAILED:", why)
    print("command:", " ".join(f"'{c}'" if " " in c else c for c in cmd))
    lines = out.splitlines()
    print(f"--- last {min(40, len(lines))} of {len(lines)} lines of serial output ---")
    print("\n".join(lines[-40:]))
    return 1


if __name__ == "__main__":
    sys.exit(main())
