#!/usr/bin/env python3
"""Debian's busybox-static reads Capsule's /proc and /sys: each case runs one
applet in a fresh VM and checks the key fields of its output against what
the VM is (CPU count, memory size, the mounts boot made, one process).

Usage: busybox_procfs.py --kernel build/capsule.elf --case NAME [--cpus N]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools", "capsule"))
from capsule_cli import cli, image, qemu  # noqa: E402

BUSYBOX = "/bin/busybox"
MEM_MIB = 128


def check_cpuinfo(out, cpus):
    n = len(re.findall(r"^processor\s*: \d+$", out, re.M))
    problems = [] if n == cpus else [f"{n} processor blocks, the VM has {cpus} CPUs"]
    for key in ("vendor_id", "model name", "cpu MHz", "flags"):
        if not re.search(rf"^{key}\s*: \S", out, re.M):
            problems.append(f"no '{key}' line")
    return problems


def check_free(out, cpus):
    m = re.search(r"^Mem:\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    if not m or not re.search(r"^\s+total\s+used\s+free", out, re.M):
        return ["no header and Mem: line"]
    total, used, free = (int(x) for x in m.groups())
    problems = []
    if not MEM_MIB * 1024 // 2 <= total <= MEM_MIB * 1024:
        problems.append(f"total {total} KiB for a {MEM_MIB} MiB VM")
    if used + free > total or free == 0:
        problems.append(f"used {used} + free {free} vs total {total}")
    if not re.search(r"^Swap:\s+0\s+0\s+0", out, re.M):
        problems.append("no empty Swap: line")
    return problems


def check_mount(out, cpus):
    problems = []
    for src, path, typ in (("proc", "/proc", "proc"), ("sysfs", "/sys", "sysfs"), ("devtmpfs", "/dev", "devtmpfs"),
                           ("tmpfs", "/dev/shm", "tmpfs")):
        if not re.search(rf"^{src} on {path} type {typ} \(rw", out, re.M):
            problems.append(f"no '{src} on {path} type {typ}' line")
    return problems


def check_nproc(out, cpus):
    return [] if out.strip() == str(cpus) else [f"nproc said {out.strip()!r}, the VM has {cpus} CPUs"]


def check_uptime(out, cpus):
    if re.search(r"up\s+(0 min|\d+:\d\d|\d+ min),.*load average: \d+\.\d\d, \d+\.\d\d, \d+\.\d\d$", out.strip()):
        return []
    return ["no 'up ..., load average: a, b, c'"]


def check_ps(out, cpus):
    problems = []
    # Debian's build leaves the TIME column out; other builds have it.
    if not re.search(r"^\s*PID\s+USER\s+(TIME\s+)?COMMAND", out, re.M):
        problems.append("no PID USER [TIME] COMMAND header")
    if not re.search(r"^\s*1\s+\S+\s+(\d+:\d\d\s+)?/busybox ps$", out, re.M):
        problems.append("no line for pid 1 running '/busybox ps'")
    return problems


def check_df(out, cpus):
    problems = []
    if not re.search(r"^Filesystem\s+1K-blocks\s+Used\s+Available\s+Use%\s+Mounted on", out, re.M):
        problems.append("no df header")
    m = re.search(r"^tmpfs\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+/dev/shm$", out, re.M)
    if not m:
        problems.append("no tmpfs line for /dev/shm")
    elif not 0 < int(m.group(1)) <= MEM_MIB * 1024:
        problems.append(f"/dev/shm size {m.group(1)} KiB for a {MEM_MIB} MiB VM")
    return problems


CASES = {
    "cpuinfo": (["cat", "/proc/cpuinfo"], check_cpuinfo),
    "free": (["free"], check_free),
    "mount": (["mount"], check_mount),
    "nproc": (["nproc"], check_nproc),
    "uptime": (["uptime"], check_uptime),
    "ps": (["ps"], check_ps),
    "df": (["df"], check_df),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--case", required=True, choices=sorted(CASES))
    p.add_argument("--cpus", type=int, default=1)
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    if not os.path.exists(BUSYBOX):
        print(f"FAILED: {BUSYBOX} missing (Debian package busybox-static)")
        return 1
    argv, check = CASES[a.case]
    work = tempfile.mkdtemp(prefix="capsule-bbproc-")
    try:
        initrd, guest = image.static_program_initrd(BUSYBOX, work)
        cmdline = "--log=error -- " + " ".join(cli.quote_word(w) for w in [guest] + argv)
        status_file = os.path.join(work, "status")
        cmd = qemu.command(a.kernel, cmdline=cmdline, initrd=initrd, accel="tcg", cpus=a.cpus,
                           mem=f"{MEM_MIB}M", status_file=status_file)
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=a.timeout)
        status, problem = qemu.decode_status(r.returncode, status_file)
        out = r.stdout.decode(errors="replace")
        problems = [problem] if problem else []
        if status != 0:
            problems.append(f"exit status {status}")
        problems += check(out, a.cpus)
        if problems:
            print(f"FAILED: busybox {' '.join(argv)} on {a.cpus} CPUs: " + "; ".join(problems))
            print(out[-3000:])
            return 1
        print(f"ok: busybox {' '.join(argv)} on {a.cpus} CPUs")
        print(out[-3000:])
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
