#!/usr/bin/env python3
"""How long `capsule run` takes before QEMU starts (bench/README.md,
"bench/run — start-up before QEMU").

A stub `qemu-system-x86_64` (stub_qemu.c, first on PATH) writes the
CLOCK_MONOTONIC time at which it was exec'd; the figure is that time minus
the time the benchmark started `./capsule`. Cached runs only (one untimed
run first fills the image cache and builds the kernel). The reference,
timed in the same rounds, is `PYTHON -c pass` start to exit with the
interpreter the `capsule` script picks (/usr/bin/python3 when present),
and the same with the script's flags `-E -S`.
Usage: startup.py [--runs N] [--capsule PATH]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "build", "bench", "startup")


def build_stub(d):
    exe = os.path.join(d, "qemu-system-x86_64")
    subprocess.run(["gcc", "-O2", "-static", "-o", exe, os.path.join(os.path.dirname(__file__), "stub_qemu.c")],
                   check=True)
    hello = os.path.join(OUT, "hello")
    subprocess.run(["gcc", "-O2", "-static", "-s", "-o", hello, os.path.join(os.path.dirname(__file__), "hello.c")],
                   check=True)
    return hello


def to_qemu(cmd, env, stamp):
    """ms from starting `cmd` to the stub QEMU's exec."""
    if os.path.exists(stamp):
        os.unlink(stamp)
    t0 = time.monotonic_ns()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    if r.returncode != 0 or not os.path.exists(stamp):
        sys.exit(f"startup: {' '.join(cmd)} failed ({r.returncode}): {r.stderr}")
    with open(stamp) as f:
        return (int(f.read()) - t0) / 1e6


def wall(cmd, env):
    t0 = time.monotonic_ns()
    subprocess.run(cmd, env=env, check=True, timeout=60)
    return (time.monotonic_ns() - t0) / 1e6


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--capsule", action="append",
                    help="the capsule script to time (repeatable: several CLIs in the same rounds; "
                         "default ./capsule)")
    a = ap.parse_args(argv)
    a.capsule = a.capsule or [os.path.join(ROOT, "capsule")]
    os.makedirs(OUT, exist_ok=True)
    py = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else "python3"
    with tempfile.TemporaryDirectory(prefix="capsule-startup-") as d:
        hello = build_stub(d)
        stamp = os.path.join(d, "stamp")
        env = dict(os.environ, PATH=d + os.pathsep + os.environ.get("PATH", ""), CAPSULE_STARTUP_STAMP=stamp,
                   CAPSULE_CACHE=os.path.join(OUT, "cache"))
        env.setdefault("CAPSULE_BUILD_DIR", os.path.join(ROOT, "build"))
        cases = {}
        for c in a.capsule:
            tag = "" if len(a.capsule) == 1 else f" {c}"
            cases["demo" + tag] = [c, "run", "--accel", "tcg"]
            cases["hello" + tag] = [c, "run", "--accel", "tcg", hello]
        for cmd in cases.values():
            to_qemu(cmd, env, stamp)  # untimed: fills the cache, builds the kernel
        samples = {"python3 -c pass": [], "python3 -E -S -c pass": []}
        samples.update({k: [] for k in cases})
        for _ in range(a.runs):
            samples["python3 -c pass"].append(wall([py, "-c", "pass"], env))
            samples["python3 -E -S -c pass"].append(wall([py, "-E", "-S", "-c", "pass"], env))
            for k, cmd in cases.items():
                samples[k].append(to_qemu(cmd, env, stamp))
    ref = statistics.median(samples["python3 -c pass"])
    print(f"{a.runs} rounds, ms from the command to QEMU's exec: median (min-max)")
    for k, v in samples.items():
        m = statistics.median(v)
        print(f"  {k:40} {m:7.1f} ({min(v):.1f}-{max(v):.1f})  {m / ref:.2f}x python3 -c pass")
    with open(os.path.join(OUT, "result.json"), "w") as f:
        json.dump({"capsule": a.capsule, "python": py, "samples": samples}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
