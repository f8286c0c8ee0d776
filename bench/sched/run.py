#!/usr/bin/env python3
"""bench/sched: scheduler figures of Capsule under TCG, on 1 and 2 vCPUs.

The measurements are in-kernel tests (core/sched/bench_ktests.cc, group
"bench") that print `bench: <name> <value> <unit>`:
  context_switch       ns per context switch, two threads on one CPU
                       ping-ponging through a pair of semaphores
                       (elapsed time / context switches counted)
  cross_cpu_handoff    ns per hand-off when the two threads sit on two CPUs
                       (2 vCPUs only: a wake-up IPI and hlt exit each)
  thread_create_join   us per thread_create + thread_join of an empty thread
  timer_wakeup_*       us a 1 ms sleep overshoots (median, p90, max of 101)
This script builds the kernel through the CLI (`./capsule build`), then runs
`./capsule run --cpus N --cmdline "--test=bench"` several times per vCPU
count, interleaved (1 2 1 2 ...) so both see the same machine load, and
reports the median (and min, max) per figure and vCPU count. Every run must
end with the tests passing (exit status 0). Results go to
build/bench/sched/result.json.

There is no Linux comparison yet: it needs a pthreads program run in both
Capsule and a Linux guest, i.e. the Linux ABI (see bench/README.md).

Usage: python3 bench/sched/run.py [--runs N] [--cpus 1,2] [--json FILE]
       (or `./capsule bench sched`, which calls main(argv)).
Python 3 standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CAPSULE = ROOT / "capsule"
WORK = ROOT / "build" / "bench" / "sched"
LINE_RE = re.compile(r"^bench: (\S+) ([0-9]+(?:\.[0-9]+)?) (\S+)\s*$", re.M)
RUN_TIMEOUT = 300.0  # seconds per boot


class BenchError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def host_description():
    model, khz = "?", 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                m = re.match(r"cpu MHz\s*:\s*([0-9.]+)", line)
                if m and not khz:
                    khz = int(float(m.group(1)) * 1000)
    except OSError:
        pass
    try:
        qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        qemu = "?"
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    return {"cpu": model, "cpus": os.cpu_count(), "tsc_khz": khz,
            "kernel": platform.release(), "qemu": qemu, "commit": commit}


def build():
    log("building: ./capsule build")
    r = subprocess.run([str(CAPSULE), "build"], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise BenchError("./capsule build failed:\n" + r.stdout[-3000:])


def run_once(cpus):
    cmd = [str(CAPSULE), "run", "--accel", "tcg", "--cpus", str(cpus), "--cmdline", "--test=bench"]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(cmd)} timed out after {RUN_TIMEOUT:.0f} s")
    wall = time.monotonic() - t0
    if r.returncode != 0 or "ktest: 3 passed, 0 failed" not in r.stdout:
        raise BenchError(f"{' '.join(cmd)} failed (exit {r.returncode}):\n" + r.stdout[-3000:])
    figures = {}
    for name, value, unit in LINE_RE.findall(r.stdout):
        figures[name] = {"value": float(value), "unit": unit}
    if not figures:
        raise BenchError(f"{' '.join(cmd)} printed no 'bench:' lines:\n" + r.stdout[-3000:])
    return figures, wall


def summarize(samples):
    """samples: list of {name: {value, unit}} -> {name: {median, min, max, unit, n}}"""
    out = {}
    names = []
    for s in samples:
        for n in s:
            if n not in names:
                names.append(n)
    for n in names:
        vals = [s[n]["value"] for s in samples if n in s]
        unit = next(s[n]["unit"] for s in samples if n in s)
        out[n] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                  "unit": unit, "n": len(vals)}
    return out


def fmt(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.2f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="boots per vCPU count (>= 5)")
    ap.add_argument("--cpus", default="1,2", help="vCPU counts, comma-separated")
    ap.add_argument("--json", default=str(WORK / "result.json"))
    a = ap.parse_args(argv)
    if a.runs < 5:
        ap.error("--runs must be at least 5 (medians of fewer are not worth reporting)")
    cpu_counts = [int(c) for c in a.cpus.split(",") if c]
    try:
        build()
        samples = {c: [] for c in cpu_counts}
        walls = {c: [] for c in cpu_counts}
        for i in range(a.runs):
            for c in cpu_counts:
                figures, wall = run_once(c)
                samples[c].append(figures)
                walls[c].append(wall)
                brief = ", ".join(f"{n} {fmt(v['value'])} {v['unit']}" for n, v in figures.items()
                                  if n != "pingpong_switches")
                log(f"run {i + 1}/{a.runs}, {c} vCPU: {brief}")
    except BenchError as e:
        log(f"bench/sched: {e}")
        return 1

    summary = {c: summarize(samples[c]) for c in cpu_counts}
    log("")
    log(f"medians over {a.runs} boots each (min..max), TCG:")
    names = []
    for c in cpu_counts:
        for n in summary[c]:
            if n not in names and n != "pingpong_switches":
                names.append(n)
    head = "| figure | " + " | ".join(f"{c} vCPU" for c in cpu_counts) + " |"
    log(head)
    log("|---|" + "---|" * len(cpu_counts))
    for n in names:
        cells = []
        unit = ""
        for c in cpu_counts:
            s = summary[c].get(n)
            if s:
                unit = s["unit"]
                cells.append(f"{fmt(s['median'])} ({fmt(s['min'])}..{fmt(s['max'])})")
            else:
                cells.append("—")
        log(f"| {n} ({unit}) | " + " | ".join(cells) + " |")

    result = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host": host_description(),
        "runs": a.runs,
        "command": "./capsule run --accel tcg --cpus N --cmdline --test=bench",
        "summary": {str(c): summary[c] for c in cpu_counts},
        "samples": {str(c): samples[c] for c in cpu_counts},
        "wall_seconds": {str(c): walls[c] for c in cpu_counts},
    }
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    log(f"\nwrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
