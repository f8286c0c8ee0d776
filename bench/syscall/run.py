#!/usr/bin/env python3
"""bench/syscall: the cost of kernel services, Capsule against a Linux guest.

One static program, bench/syscall/syscall_bench.c (built here with
`gcc -static -O2 -pthread` into build/bench/syscall/), measures from inside
the guest:
  getpid_ns                  syscall(SYS_getpid), the raw syscall path
  clock_gettime_ns           clock_gettime(CLOCK_MONOTONIC) (vDSO when there is one)
  mmap_touch_munmap_1mib_us  mmap 1 MiB anonymous, write every page, munmap
  thread_create_join_us      pthread_create + pthread_join of an empty thread
It runs in Capsule (`./capsule run --accel tcg build/bench/syscall/syscall_bench`)
and as /init of the Linux guest bench/boot prepares (Debian's cloud kernel,
ELF vmlinux via PVH), both on microvm, TCG `-cpu max`, the same -m and -smp.
Runs are interleaved (A B A B ...); it reports the median of each figure, the
ratio Capsule / Linux (below 1: Capsule is faster) and the path each figure
took, and writes build/bench/syscall/result.json.

Usage: python3 bench/syscall/run.py [--runs N] [--scale F] [--json FILE]
       (or `./capsule bench syscall ...`, which calls main(argv)).
Python 3 standard library only; host packages come from Debian (apt-get,
only when missing), through bench/boot's own setup.
"""
import argparse
import datetime
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORK = ROOT / "build" / "bench" / "syscall"
SRC = HERE / "syscall_bench.c"
BINARY = WORK / "syscall_bench"

MEM = "128M"
CPUS = 1
CAPSULE_TIMEOUT = 120.0  # seconds per Capsule run (about 1 s expected)
LINUX_TIMEOUT = 180.0    # seconds per Linux run (about 3 s expected)

# (key printed by the program, label, unit)
FIGURES = [
    ("getpid_ns", "getpid (raw syscall)", "ns"),
    ("clock_gettime_ns", "clock_gettime(CLOCK_MONOTONIC)", "ns"),
    ("mmap_touch_munmap_1mib_us", "1 MiB anon mmap + touch + munmap", "us"),
    ("thread_create_join_us", "pthread create + join", "us"),
    ("pingpong_handoff_ns", "condvar ping-pong, per hand-off", "ns"),
    ("sleep_1ms_overshoot_us", "nanosleep(1 ms) overshoot, median", "us"),
]
FACTS = ("at_sysinfo_ehdr", "clock_gettime_path", "timer", "clocksource_start",
         "clocksource_end")
LINE_RE = re.compile(r"^bench: (\S+) (.*?)\s*$")


class BenchError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def boot_module():
    """bench/boot/run.py, whose Linux guest preparation this reuses."""
    path = HERE.parent / "boot" / "run.py"
    spec = importlib.util.spec_from_file_location("capsule_bench_boot", path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception as e:
        raise BenchError(f"cannot load {path}: {type(e).__name__}: {e}")
    return mod


# ---------------------------------------------------------------- preparation

def build_binary():
    WORK.mkdir(parents=True, exist_ok=True)
    if BINARY.exists() and BINARY.stat().st_mtime >= SRC.stat().st_mtime:
        return
    log(f"building {BINARY.relative_to(ROOT)} (gcc -static -O2 -pthread)")
    r = subprocess.run(["gcc", "-static", "-O2", "-pthread", "-Wall", "-o", str(BINARY),
                        str(SRC)], capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError("building syscall_bench failed (is libc6-dev installed?):\n"
                         + r.stderr.strip())


def prepare_linux(boot):
    """(vmlinux, initramfs, kernel package name). The vmlinux is bench/boot's
    cached extraction (build/bench/boot/); the initramfs has syscall_bench as
    /init."""
    boot.WORK.mkdir(parents=True, exist_ok=True)
    vmlinuz = boot.find_vmlinuz()
    vmlinux = boot.WORK / ("vmlinux-" + vmlinuz.name[len("vmlinuz-"):])
    if boot.stale(vmlinux, vmlinuz):
        log(f"extracting the ELF vmlinux from {vmlinuz} -> {vmlinux.relative_to(ROOT)}")
        boot.extract_vmlinux(vmlinuz, vmlinux)
    initramfs = WORK / "initramfs.cpio"
    if boot.stale(initramfs, BINARY, Path(__file__)):
        boot.write_initramfs(BINARY, initramfs)
    return vmlinux, initramfs, vmlinuz.name


def linux_command(boot, vmlinux, initramfs, prog_args):
    cmd = boot.linux_command(vmlinux, initramfs)
    # Same machine, accelerator and CPU as bench/boot; pin -m and -smp here.
    cmd[cmd.index("-m") + 1] = MEM
    cmd[cmd.index("-smp") + 1] = str(CPUS)
    # tsc=reliable: no clocksource watchdog. Under TCG it compares the TSC
    # with jiffies, finds a skew whenever the host is busy, marks the TSC
    # unstable and switches to refined-jiffies, after which the vDSO falls
    # back to the syscall (~800 ns) and CLOCK_MONOTONIC ticks in 4 ms steps.
    # Linux passes the words after "--" to init as its arguments.
    i = cmd.index("-append") + 1
    cmd[i] += " tsc=reliable -- --poweroff --clocksource " + " ".join(prog_args)
    return cmd


def capsule_command(prog_args):
    cli = ROOT / "capsule"
    if not cli.exists():
        raise BenchError(f"{cli} not found (the capsule CLI)")
    return [str(cli), "run", "--accel", "tcg", "--machine", "microvm", "--mem", MEM,
            "--cpus", str(CPUS), str(BINARY.relative_to(ROOT))] + list(prog_args)


# ---------------------------------------------------------------- running

def run_guest(cmd, timeout):
    """Runs cmd (stdin closed, own process group). Returns (exit status or
    None on a timeout, output, wall seconds); on a timeout the process group
    is killed and the output so far is kept."""
    chunks = []
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    th = threading.Thread(target=lambda: chunks.extend(iter(p.stdout.readline, b"")),
                          daemon=True)
    th.start()
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, 9)
        except ProcessLookupError:
            pass
        p.wait()
        rc = None
    wall = time.perf_counter() - t0
    th.join(10)
    return rc, b"".join(chunks).decode(errors="replace"), wall


def parse(out):
    """{key: float | 'unsupported ...' | fact string} from the bench: lines."""
    res = {}
    for ln in out.splitlines():
        m = LINE_RE.match(ln.rstrip("\r"))
        if not m:
            continue
        key, val = m.groups()
        try:
            res[key] = float(val)
        except ValueError:
            res[key] = val
    return res


def one_run(name, cmd, timeout, strict):
    """One guest run: its parsed lines. A run that does not finish ('done ok')
    raises when strict, else keeps what it printed and notes the problem."""
    rc, out, wall = run_guest(cmd, timeout)
    res = parse(out)
    problem = None
    if rc is None:
        problem = f"timed out after {timeout:.0f} s"
    elif res.get("done") != "ok":
        problem = f"ended (exit {rc}) without 'bench: done ok'"
    elif rc != 0:
        problem = f"exit status {rc}, not 0"
    skew = res.get("clock_over_tsc")
    if not problem and isinstance(skew, float) and not 0.95 <= skew <= 1.05:
        problem = (f"CLOCK_MONOTONIC ran at {skew:.3f}x the TSC over the run: the "
                   "guest's clock is off, its figures are not trustworthy")
    if problem:
        msg = f"{name}: {problem}\n$ {' '.join(cmd)}\n{out[-3000:]}"
        if strict or not any(isinstance(res.get(k), float) for k, _, _ in FIGURES):
            raise BenchError(msg)
        log("  warning: " + msg.replace("\n", "\n    "))
        res["problem"] = problem
        res["output_tail"] = out[-800:]
    res["wall_s"] = round(wall, 3)
    return res


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench/syscall",
                                 description="ns per getpid / clock_gettime, us per 1 MiB "
                                             "mmap+touch+munmap and per thread create+join: "
                                             "Capsule against a Linux guest on the same QEMU.")
    ap.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the program's iteration counts by this (default 1)")
    ap.add_argument("--json", default=str(WORK / "result.json"),
                    help="where to write the results (default build/bench/syscall/"
                         "result.json; '' for none)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if not args.scale > 0:
        ap.error("--scale must be positive")
    try:
        return run(args)
    except BenchError as e:
        print(f"bench/syscall: error: {e}", file=sys.stderr, flush=True)
        return 1


def run(args):
    boot = boot_module()
    try:
        if not boot.shutil.which("qemu-system-x86_64"):
            raise BenchError("qemu-system-x86_64 not found (Debian package qemu-system-x86)")
        boot.ensure_packages()  # linux-image-cloud-amd64, lz4, gcc
        build_binary()
        vmlinux, initramfs, kernel_name = prepare_linux(boot)
        host = boot.host_description()
    except boot.BenchError as e:
        raise BenchError(str(e))

    prog_args = []
    if host["tsc_khz"]:
        # Only used where clock_gettime fails (the program then times with RDTSC).
        # Not "--tsc-khz=": the CLI skips its own --tsc-khz for the kernel when
        # the command line (program arguments included) already contains that.
        prog_args.append(f"--tsc-rate={host['tsc_khz']}")
    if args.scale != 1.0:
        prog_args.append(f"--scale={args.scale:g}")
    cap_cmd = capsule_command(prog_args)
    lin_cmd = linux_command(boot, vmlinux, initramfs, prog_args)
    log(f"host: {host['cpu']}, {host['cpus']} CPUs, TSC {host['tsc_khz']} kHz; {host['qemu']}")
    log(f"A (capsule): {' '.join(cap_cmd)}")
    log(f"B (linux):   {' '.join(lin_cmd)}")

    # Untimed first runs: both guests work, the CLI's build step has built
    # capsule.elf, the page cache is warm.
    log("untimed first runs (the first builds the kernel if needed)")
    one_run("capsule", cap_cmd, CAPSULE_TIMEOUT + 600, strict=False)
    one_run("linux", lin_cmd, LINUX_TIMEOUT, strict=True)

    cap, lin = [], []
    log(f"measuring {args.runs} runs of each, interleaved")
    for i in range(args.runs):
        cap.append(one_run("capsule", cap_cmd, CAPSULE_TIMEOUT, strict=False))
        lin.append(one_run("linux", lin_cmd, LINUX_TIMEOUT, strict=True))
        log(f"  run {i + 1:2} (capsule/linux): " + "  ".join(
            f"{key} {fmt(cap[-1].get(key))}/{fmt(lin[-1].get(key))}"
            for key, _, _ in FIGURES))

    figures = {}
    for key, label, unit in FIGURES:
        entry = {"label": label, "unit": unit}
        for side, runs in (("capsule", cap), ("linux", lin)):
            xs = [r[key] for r in runs if isinstance(r.get(key), float)]
            notes = sorted({r[key] for r in runs if isinstance(r.get(key), str)})
            entry[side] = summary(xs) if xs else None
            entry[side + "_samples"] = xs
            if notes:
                entry[side + "_unsupported"] = notes
        entry["ratio_capsule_over_linux"] = (
            entry["capsule"]["median"] / entry["linux"]["median"]
            if entry["capsule"] and entry["linux"] else None)
        figures[key] = entry

    def facts(runs):
        return {f: sorted({str(r.get(f, "?")) for r in runs}) for f in FACTS}

    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": host, "runs": args.runs, "scale": args.scale, "mem": MEM, "cpus": CPUS,
        "capsule_cmd": cap_cmd, "linux_cmd": lin_cmd, "linux_kernel": kernel_name,
        "paths": {"capsule": facts(cap), "linux": facts(lin)},
        "problems": {"capsule": [r["problem"] for r in cap if "problem" in r]},
        "figures": figures,
        "runs_raw": {"capsule": cap, "linux": lin},
    }
    report(res)
    if args.json:
        boot.write_json(res, args.json)
    return 0


def fmt(v):
    if isinstance(v, float):
        return f"{v:.1f}"
    return "n/a" if v is None else "unsupported"


def report(res):
    log(f"\nbench/syscall, {res['runs']} runs each (medians), microvm TCG -cpu max, "
        f"-m {res['mem']} -smp {res['cpus']}, {res['host']['qemu']}")
    log(f"  Linux guest: Debian {res['linux_kernel']}")
    log(f"  {'figure':<40} {'unit':>4} {'capsule':>12} {'linux':>12} {'capsule/linux':>14}")
    for key, f in res["figures"].items():
        def cell(side):
            if f[side]:
                return f"{f[side]['median']:.1f}"
            return "unsupported" if f.get(side + "_unsupported") else "no figure"
        c, l = cell("capsule"), cell("linux")
        r = f"{f['ratio_capsule_over_linux']:.2f}x" if f["ratio_capsule_over_linux"] else "n/a"
        log(f"  {f['label']:<40} {f['unit']:>4} {c:>12} {l:>12} {r:>14}")
        for side in ("capsule", "linux"):
            for note in f.get(side + "_unsupported", []):
                log(f"      {side}: {note}")
    for side in ("capsule", "linux"):
        p = res["paths"][side]
        cs = ""
        if p["clocksource_start"] != ["?"]:
            cs = (f", clocksource {'/'.join(p['clocksource_start'])} -> "
                  f"{'/'.join(p['clocksource_end'])}")
        log(f"  {side}: AT_SYSINFO_EHDR {'/'.join(p['at_sysinfo_ehdr'])}, clock_gettime "
            f"path {'/'.join(p['clock_gettime_path'])}, timed with "
            f"{'/'.join(p['timer'])}{cs}")
    if res["problems"]["capsule"]:
        probs = res["problems"]["capsule"]
        log(f"  capsule: {len(probs)} of {res['runs']} runs did not finish: "
            f"{'; '.join(sorted(set(probs)))} (figures missing from a run: it ended "
            "while measuring them; see output_tail in the JSON)")


if __name__ == "__main__":
    sys.exit(main())
