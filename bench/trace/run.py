#!/usr/bin/env python3
"""bench/trace: what the --trace tracepoints cost (docs/trace.md "A
tracepoint and what it costs").

bench/syscall's program (syscall_bench.c, built as bench/syscall does into
build/bench/syscall/) runs in Capsule, and its getpid_ns (a raw
syscall(SYS_getpid) loop) is read from each run, round by round, under:

  before   another tree's CLI and kernel (--base TREE: a checkout of the
           commit before tracepoints, with its build/ configured; optional)
  off      this tree, no --trace
  sched    --trace=sched (the system-call sites stay off)
  all      --trace (two records per getpid: enter and exit)

The series are interleaved (before off sched all, before off ...) so all
see the same machine load; it prints each series' median, min and max,
and the ratio of each median to the first series' (and the median of the
per-round ratios). Results go to build/bench/trace/result.json.

Usage: ./capsule bench trace [--runs N] [--scale F] [--base TREE]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "bench" / "trace"
BINARY = ROOT / "build" / "bench" / "syscall" / "syscall_bench"
SOURCE = ROOT / "bench" / "syscall" / "syscall_bench.c"


def build_binary():
    inputs = (SOURCE, ROOT / "bench" / "guest_bench.h")
    if BINARY.exists() and all(BINARY.stat().st_mtime >= p.stat().st_mtime for p in inputs):
        return
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {BINARY.relative_to(ROOT)} (gcc -static -O2 -pthread)", flush=True)
    subprocess.run(["gcc", "-static", "-O2", "-pthread", "-Wall", "-o", str(BINARY), str(SOURCE)], check=True)


def one(cli, env, extra, scale):
    cmd = [str(cli), "run", "--cpus", "1", *extra, str(BINARY), f"--scale={scale}"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, timeout=300,
                       cwd=WORK)
    m = re.search(r"^bench: getpid_ns ([\d.]+)$", r.stdout, re.M)
    if r.returncode != 0 or not m:
        sys.exit(f"bench/trace: no getpid_ns from {' '.join(cmd)} (status {r.returncode})")
    return float(m.group(1))


def main(argv=None):
    p = argparse.ArgumentParser(prog="capsule bench trace", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--scale", type=float, default=0.25, help="syscall_bench --scale (0.25: 50,000 getpid)")
    p.add_argument("--base", metavar="TREE", help="a tree without tracepoints, its build/ configured")
    a = p.parse_args(argv)
    build_binary()
    WORK.mkdir(parents=True, exist_ok=True)
    here = dict(os.environ)
    here.pop("CAPSULE_BUILD_DIR", None)
    series = []
    if a.base:
        env = dict(here, CAPSULE_BUILD_DIR=str(Path(a.base) / "build"))
        series.append(("before", Path(a.base) / "capsule", env, []))
    out = str(WORK / "trace.dat")
    series += [("off", ROOT / "capsule", here, []),
               ("sched", ROOT / "capsule", here, ["--trace=sched", "--trace-output", out]),
               ("all", ROOT / "capsule", here, ["--trace", "--trace-output", out])]
    samples = {name: [] for name, *_ in series}
    for i in range(a.runs):
        row = []
        for name, cli, env, extra in series:
            samples[name].append(one(cli, env, extra, a.scale))
            row.append(f"{name} {samples[name][-1]:.1f}")
        print(f"round {i + 1}: " + ", ".join(row), flush=True)
    ref = series[0][0]
    print(f"\ngetpid ns, median (min-max), ratio to {ref}'s median, median of per-round ratios:")
    result = {"runs": a.runs, "scale": a.scale, "samples": samples, "medians": {}}
    for name in samples:
        med = statistics.median(samples[name])
        result["medians"][name] = med
        per = statistics.median(x / y for x, y in zip(samples[name], samples[ref]))
        print(f"  {name:7s} {med:8.1f} ({min(samples[name]):.1f}-{max(samples[name]):.1f})  "
              f"{med / statistics.median(samples[ref]):.2f}x  {per:.2f}x")
    (WORK / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
