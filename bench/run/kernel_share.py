#!/usr/bin/env python3
"""The kernel's share of a program's run (issue 16, "python3 -c 'print(1)',
kernel time under 10%"), from the kernel's own accounting.

Boots the QEMU command `capsule run` runs for the program (bench/run's
qemu_alone: the CLI's own vm_settings and qemu.command, image packed
in-process), with the kernel option --stats (docs/stats.md): each CPU reads
the TSC at every change of mode, so "User time" is the program's own
instructions and "System time" the kernel's work for it (system calls,
page faults, interrupts taken from it). Share = system / (user + system).
Also parsed: page faults by kind, system calls and their time, and the
first-output and exit times of the run. --before ELF --before-rev REV adds
a series with another kernel, whose image is packed with the cpio writer of
git revision REV (the image format changed with issue 16), interleaved
round by round with this tree's.

Usage: python3 bench/run/kernel_share.py [--runs N] [--program python3|hello]
                                         [--before ELF --before-rev REV]
"""
import argparse
import importlib.util
import re
import statistics
import subprocess
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


brun = _load("capsule_bench_run", HERE / "run.py")
FIELDS = {
    "user_s": r"User time \(seconds\): ([0-9.]+)",
    "system_s": r"System time \(seconds\): ([0-9.]+)",
    "wall_s": r"Elapsed \(wall clock\) time \(seconds\): ([0-9.]+)",
    "faults": r"\tPage faults: (\d+)",
    "faults_anon": r"anonymous zero-fill: (\d+)",
    "faults_file": r"file-backed: (\d+)",
    "faults_cow": r"copy-on-write copied: (\d+)",
    "syscalls": r"\tSystem calls: (\d+)",
    "syscall_s": r"System call time \(seconds\): ([0-9.]+)",
    "kernel_peak_kib": r"Kernel peak memory used \(kbytes\): (\d+)",
}


def old_writer(rev):
    """cpio.write as it was at git revision `rev`."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:tools/capsule/capsule_cli/cpio.py"],
                         capture_output=True, text=True, check=True).stdout
    mod = types.ModuleType(f"cpio_{rev}")
    exec(compile(src, f"{rev}:cpio.py", "exec"), mod.__dict__)
    return mod.write


def command(cli, name, kernel, writer=None, mem=None):
    cpio = sys.modules["capsule_cli.cpio"]
    saved = cpio.write
    if writer:
        cpio.write = writer
    try:
        brun.CACHES.mkdir(parents=True, exist_ok=True)
        mem = mem or f"{brun.image_build(cli, name, brun.CACHES / f'inproc-{name}')['mem_mib']}M"
        cmd, status = brun.qemu_alone(cli, name, mem)
    finally:
        cpio.write = saved
    # A cache of its own per series: qemu_alone's directory is reused.
    keep = brun.CACHES / f"share-{kernel.name}-{name}.cpio"
    img = cmd[cmd.index("-initrd") + 1]
    Path(img).replace(keep)
    cmd[cmd.index("-initrd") + 1] = str(keep)
    cmd[cmd.index("-kernel") + 1] = str(kernel)
    i = cmd.index("-append") + 1
    cmd[i] = "--stats " + cmd[i]
    return cmd, lambda rc: cli.qemu.decode_status(rc, str(status))


def parse(out):
    got = {}
    for k, pat in FIELDS.items():
        m = re.search(pat, out)
        if not m:
            raise brun.BenchError(f"no '{k}' in the --stats report:\n{out[-3000:]}")
        got[k] = float(m.group(1))
    got["share"] = got["system_s"] / (got["user_s"] + got["system_s"])
    return got


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench/run/kernel_share", description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--program", default="python3", choices=sorted(brun.PROGRAMS))
    ap.add_argument("--before", help="another capsule.elf")
    ap.add_argument("--before-rev", default="main", help="git revision whose cpio writer packs its image")
    a = ap.parse_args(argv)
    cli = brun.cli_modules()
    brun.build_programs()
    _, _, line = brun.PROGRAMS[a.program]
    series = {}
    if a.before:
        series["before"] = command(cli, a.program, Path(a.before).resolve(), old_writer(a.before_rev))
    series["this tree"] = command(cli, a.program, Path(cli.build.KERNEL))
    for n, (cmd, _) in series.items():
        print(f"{n}: {' '.join(cmd)}", flush=True)
    samples = {n: [] for n in series}
    for i in range(a.runs + 1):
        for n, (cmd, status) in series.items():
            r = brun.checked(n, cmd, line, brun.CAPSULE_TIMEOUT, status=status)
            got = parse(r["out"])
            got["first_ms"], got["exit_ms"] = r["first_ms"], r["wall_ms"]
            if i:  # the first round warms up
                samples[n].append(got)
            print(f"  round {i}{' (untimed)' if not i else ''} {n}: user {got['user_s'] * 1000:.1f} ms, "
                  f"system {got['system_s'] * 1000:.1f} ms = {got['share'] * 100:.1f}%, "
                  f"faults {got['faults']:.0f}, syscalls {got['syscalls']:.0f}, first output "
                  f"{got['first_ms']:.0f} ms", flush=True)
    print(f"\n{a.program}, {a.runs} rounds, medians")
    keys = ["user_s", "system_s", "share", "syscall_s", "faults", "faults_anon", "faults_file", "faults_cow",
            "syscalls", "kernel_peak_kib", "first_ms", "exit_ms"]
    print("  " + "".join(f"{k:>16}" for k in ["series"] + keys))
    for n, ss in samples.items():
        cells = [statistics.median(s[k] for s in ss) for k in keys]
        print("  " + f"{n:>16}" + "".join(
            f"{c * 1000:16.1f}" if k.endswith("_s") else f"{c * 100:15.1f}%" if k == "share" else f"{c:16.0f}"
            for k, c in zip(keys, cells)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except brun.BenchError as e:
        sys.exit(f"bench/run/kernel_share: error: {e}")
