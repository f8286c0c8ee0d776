#!/usr/bin/env python3
"""bench/fuzz: the long run of tests/guest/stress/sysfuzz.c (issues 17, 20).

Boots the kernel again and again with the system-call stress program, one
seed per run, and counts runs that pass, hang (the program's watchdog says
"sysfuzz: HANG", or the VM stops printing and the run times out), panic or
fail otherwise. Every run that did not pass keeps its serial output in
build/bench/fuzz/seed-<N>.log; the summary goes to build/bench/fuzz/result.json.

Usage: ./capsule bench fuzz [--runs 200] [--first-seed 1] [--threads 4]
           [--cpus 4] [--calls 80000] [--jobs 1] [--timeout 900]
           [--cmdline=--hung-task=30] [--stop-on-failure]
       (or python3 bench/fuzz/run.py ...). The program is built here with
       `gcc -static -O2 -pthread` into build/bench/fuzz/sysfuzz.

--calls is per thread. The runs are TCG when /dev/kvm is missing; on a
shared 2-core machine run it under `nice` and keep --jobs at 1.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "capsule"))
from capsule_cli import build, image, qemu  # noqa: E402

OUT = Path(build.BUILD) / "bench" / "fuzz"
SOURCE = ROOT / "tests" / "guest" / "stress" / "sysfuzz.c"


def compile_program():
    OUT.mkdir(parents=True, exist_ok=True)
    exe = OUT / "sysfuzz"
    if not exe.exists() or exe.stat().st_mtime < SOURCE.stat().st_mtime:
        subprocess.check_call(["gcc", "-static", "-O2", "-Wall", "-pthread", "-o", str(exe), str(SOURCE)])
    return exe


def one_run(a, exe, seed):
    work = tempfile.mkdtemp(prefix="capsule-fuzz-")
    initrd, guest = image.static_program_initrd(str(exe), work)
    words = [guest, "-s", str(seed), "-t", str(a.threads), "-n", str(a.calls), "-w", str(a.stall)]
    cmdline = (a.cmdline + " -- " + " ".join(words)).strip()
    status_file = os.path.join(work, "status")
    cmd = qemu.command(a.kernel, machine="microvm", mem=a.mem, cpus=a.cpus, accel=a.accel,
                       cmdline=cmdline, initrd=initrd, status_file=status_file)
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=a.timeout)
        out, rc, timed_out = r.stdout.decode(errors="replace"), r.returncode, False
    except subprocess.TimeoutExpired as e:
        out, rc, timed_out = (e.stdout or b"").decode(errors="replace"), None, True
    secs = time.monotonic() - t0
    status = None
    if not timed_out:
        status, _ = qemu.decode_status(rc, status_file)
    if re.search(r"(^|\n)panic: ", out):
        verdict = "panic"
    elif "sysfuzz: HANG" in out or timed_out:
        verdict = "hang"
    elif "hung_task:" in out:
        # The kernel's hung-task detector reported a stalled CPU or a
        # sleeper (docs/hang_detector.md), even if the program then ended.
        verdict = "hung_task report"
    elif "PASS sysfuzz" in out and status == 0:
        verdict = "pass"
    else:
        verdict = "fail"
    m = re.search(r"sysfuzz: seed \d+: (\d+) calls", out)
    calls = int(m.group(1)) if m else 0
    if verdict != "pass":
        (OUT / f"seed-{seed}.log").write_text(out)
    subprocess.run(["rm", "-rf", work])
    return {"seed": seed, "verdict": verdict, "seconds": round(secs, 1), "calls": calls, "status": status}


def main(argv):
    p = argparse.ArgumentParser(prog="capsule bench fuzz", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--cpus", type=int, default=4)
    p.add_argument("--calls", type=int, default=80000, help="per thread")
    p.add_argument("--stall", type=int, default=60, help="seconds a call may stay in the kernel")
    p.add_argument("--mem", default="256M")
    p.add_argument("--accel", default="auto")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    p.add_argument("--cmdline", default="", help="kernel command-line words")
    p.add_argument("--stop-on-failure", action="store_true")
    a = p.parse_args(argv)
    build.build(["capsule.elf"])
    exe = compile_program()
    # A copy, so rebuilding during a long run does not change the kernel under it.
    a.kernel = str(OUT / "capsule.elf")
    shutil.copyfile(build.KERNEL, a.kernel)
    results = []
    counts = {}
    t0 = time.monotonic()
    seeds = list(range(a.first_seed, a.first_seed + a.runs))
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futures = {pool.submit(one_run, a, exe, s): s for s in seeds}
        for f in concurrent.futures.as_completed(futures):
            r = f.result()
            results.append(r)
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
            print(f"seed {r['seed']}: {r['verdict']} in {r['seconds']} s, {r['calls']} calls"
                  + ("" if r["verdict"] == "pass" else f" (log: {OUT}/seed-{r['seed']}.log)"), flush=True)
            if a.stop_on_failure and r["verdict"] != "pass":
                for other in futures:
                    other.cancel()
                break
    results.sort(key=lambda r: r["seed"])
    total_calls = sum(r["calls"] for r in results)
    summary = {"runs": len(results), "counts": counts, "calls": total_calls,
               "threads": a.threads, "cpus": a.cpus, "calls_per_thread": a.calls,
               "seconds": round(time.monotonic() - t0), "results": results}
    (OUT / "result.json").write_text(json.dumps(summary, indent=1))
    print(f"fuzz: {len(results)} runs, {counts}, {total_calls} calls in {summary['seconds']} s")
    return 0 if counts.get("pass", 0) == len(results) == a.runs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
