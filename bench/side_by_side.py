"""One static C program run as the whole guest in Capsule and in a Linux
guest on the same QEMU, side by side: the harness of bench/syscall and
bench/fs (each of those is a Spec and a call to main()).

The program prints `bench: <key> <value>` lines (a number, or a note such as
`unavailable: ENOSYS` when a figure cannot be measured, or a fact such as
the timer it used) and `bench: done ok` at the end. It is built with
`gcc -static -O2 -pthread` into build/bench/<name>/ and runs in Capsule as
`./capsule run --accel tcg <binary> ARGS` and in Linux as /init of an
initramfs next to bench/boot's vmlinux (Debian's cloud kernel, PVH), both
on microvm, TCG `-cpu max`, the same -m and -smp. One untimed run of each
goes first; then the runs are interleaved (A B A B ...). It reports median,
min and max of each figure, the ratio Capsule / Linux and Capsule's speed
(above 1: Capsule is faster, whichever way the unit goes), and writes
build/bench/<name>/result.json.
"""
import argparse
import dataclasses
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
from typing import Callable, Optional

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LINE_RE = re.compile(r"^bench: (\S+) (.*?)\s*$")


class BenchError(Exception):
    pass


@dataclasses.dataclass
class Spec:
    name: str                    # "fs": bench/fs/, build/bench/fs/
    description: str             # argparse's
    source: str                  # the C file in bench/<name>/
    figures: list                # (key, label, unit, higher_is_better)
    facts: tuple                 # keys reported as sets of strings, not figures
    facts_line: Callable         # facts dict of one side -> the text after "side: "
    mem: str = "128M"
    cpus: int = 1
    capsule_timeout: float = 120.0  # seconds per run
    linux_timeout: float = 180.0
    linux_init_args: tuple = ()     # words before the program's own arguments in Linux
    check: Optional[Callable] = None  # parsed run -> a problem (str) or None
    # Other files both guests get: (guest path, host path); Capsule by
    # --add, Linux in its initramfs (the parent directories made).
    extra_files: tuple = ()
    capsule_cmdline: str = ""       # kernel options for Capsule's runs (--cmdline)

    @property
    def work(self):
        return ROOT / "build" / "bench" / self.name

    @property
    def binary(self):
        return self.work / Path(self.source).stem


def log(msg):
    print(msg, flush=True)


def boot_module():
    """bench/boot/run.py: the Linux guest (vmlinux, initramfs writer, QEMU command)."""
    path = BENCH / "boot" / "run.py"
    spec = importlib.util.spec_from_file_location("capsule_bench_boot", path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception as e:
        raise BenchError(f"cannot load {path}: {type(e).__name__}: {e}")
    return mod


# ---------------------------------------------------------------- preparation

def build_binary(s):
    src = BENCH / s.name / s.source
    s.work.mkdir(parents=True, exist_ok=True)
    inputs = (src, BENCH / "guest_bench.h", BENCH / "linux_init.h")
    if s.binary.exists() and all(s.binary.stat().st_mtime >= p.stat().st_mtime for p in inputs):
        return
    log(f"building {s.binary.relative_to(ROOT)} (gcc -static -O2 -pthread)")
    r = subprocess.run(["gcc", "-static", "-O2", "-pthread", "-Wall", "-o", str(s.binary), str(src)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"building {s.binary.name} failed (is libc6-dev installed?):\n" + r.stderr.strip())


def prepare_linux(s, boot):
    """(vmlinux, initramfs, kernel package name): bench/boot's cached ELF
    vmlinux (build/bench/boot/), an initramfs with the program as /init."""
    boot.WORK.mkdir(parents=True, exist_ok=True)
    vmlinuz = boot.find_vmlinuz()
    vmlinux = boot.WORK / ("vmlinux-" + vmlinuz.name[len("vmlinuz-"):])
    if boot.stale(vmlinux, vmlinuz):
        log(f"extracting the ELF vmlinux from {vmlinuz} -> {vmlinux.relative_to(ROOT)}")
        boot.extract_vmlinux(vmlinuz, vmlinux)
    initramfs = s.work / "initramfs.cpio"
    if boot.stale(initramfs, s.binary, Path(__file__), *(h for _, h in s.extra_files)):
        if s.extra_files:
            write_initramfs_with(boot, s.binary, s.extra_files, initramfs)
        else:
            boot.write_initramfs(s.binary, initramfs)
    return vmlinux, initramfs, vmlinuz.name


def write_initramfs_with(boot, init_binary, extra_files, out):
    """bench/boot's initramfs (/dev, /dev/console, /init) and the extra
    files at their guest paths, each directory on the way made once."""
    blob = boot.newc_entry(1, "dev", 0o040755, nlink=2)
    blob += boot.newc_entry(2, "dev/console", 0o020600, rdev=(5, 1))
    blob += boot.newc_entry(3, "init", 0o100755, Path(init_binary).read_bytes())
    ino, made = 4, set()
    for guest, host in extra_files:
        parts = guest.strip("/").split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in made:
                made.add(d)
                blob += boot.newc_entry(ino, d, 0o040755, nlink=2)
                ino += 1
        blob += boot.newc_entry(ino, "/".join(parts), 0o100755, Path(host).read_bytes())
        ino += 1
    blob += boot.newc_entry(0, "TRAILER!!!", 0)
    blob += b"\0" * (-len(blob) % 512)
    out.write_bytes(blob)


def linux_command(s, boot, vmlinux, initramfs, prog_args):
    # Same machine, accelerator and CPU as bench/boot; -m and -smp pinned here.
    cmd = boot.linux_command(vmlinux, initramfs)
    cmd[cmd.index("-m") + 1] = s.mem
    cmd[cmd.index("-smp") + 1] = str(s.cpus)
    # tsc=reliable: no clocksource watchdog. Under TCG it compares the TSC
    # with jiffies, finds a skew whenever the host is busy, marks the TSC
    # unstable and switches to refined-jiffies, after which the vDSO falls
    # back to the syscall (~800 ns) and CLOCK_MONOTONIC ticks in 4 ms steps.
    # Linux passes the words after "--" to init as its arguments.
    i = cmd.index("-append") + 1
    cmd[i] += " tsc=reliable -- " + " ".join(["--poweroff", *s.linux_init_args, *prog_args])
    return cmd


def capsule_command(s, prog_args):
    cli = ROOT / "capsule"
    if not cli.exists():
        raise BenchError(f"{cli} not found (the capsule CLI)")
    adds = [f"--add={host}:{guest}" for guest, host in s.extra_files]
    if s.capsule_cmdline:
        adds.append(f"--cmdline={s.capsule_cmdline}")
    return [str(cli), "run", "--accel", "tcg", "--machine", "microvm", "--mem", s.mem,
            "--cpus", str(s.cpus), *adds, str(s.binary.relative_to(ROOT))] + list(prog_args)


# ---------------------------------------------------------------- running

def run_guest(cmd, timeout, on_line=None):
    """Runs cmd (stdin closed, own process group). Returns (exit status or
    None on a timeout, output, wall seconds); on a timeout the process group
    is killed and the output so far is kept. on_line(line bytes, seconds
    since the start) is called for each line as it comes."""
    chunks = []
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)

    def reader():
        for line in iter(p.stdout.readline, b""):
            if on_line:
                on_line(line, time.perf_counter() - t0)
            chunks.append(line)

    th = threading.Thread(target=reader, daemon=True)
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
    """{key: float | note or fact string} from the bench: lines."""
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


def one_run(s, name, cmd, timeout, strict):
    """One guest run: its parsed lines. A run that does not end with
    'bench: done ok' (or fails the Spec's check) raises when strict or when
    it gave no figure at all; otherwise it keeps what it printed and notes
    the problem."""
    rc, out, wall = run_guest(cmd, timeout)
    res = parse(out)
    problem = None
    if rc is None:
        problem = f"timed out after {timeout:.0f} s"
    elif res.get("done") != "ok":
        problem = f"ended (exit {rc}) without 'bench: done ok'"
    elif rc != 0:
        problem = f"exit status {rc}, not 0"
    elif s.check:
        problem = s.check(res)
    if problem:
        msg = f"{name}: {problem}\n$ {' '.join(cmd)}\n{out[-3000:]}"
        if strict or not any(isinstance(res.get(k), float) for k, *_ in s.figures):
            raise BenchError(msg)
        log("  warning: " + msg.replace("\n", "\n    "))
        res["problem"] = problem
        res["output_tail"] = out[-800:]
    res["wall_s"] = round(wall, 3)
    return res


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


# ---------------------------------------------------------------- main

def main(s, argv=None):
    ap = argparse.ArgumentParser(prog=f"bench/{s.name}", description=s.description)
    ap.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the program's iteration counts (and sizes) by this (default 1)")
    ap.add_argument("--json", default=str(s.work / "result.json"),
                    help=f"where to write the results (default build/bench/{s.name}/result.json; "
                         "'' for none)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if not args.scale > 0:
        ap.error("--scale must be positive")
    try:
        return run(s, args)
    except BenchError as e:
        print(f"bench/{s.name}: error: {e}", file=sys.stderr, flush=True)
        return 1


def run(s, args):
    boot = boot_module()
    try:
        if not boot.shutil.which("qemu-system-x86_64"):
            raise BenchError("qemu-system-x86_64 not found (Debian package qemu-system-x86)")
        boot.ensure_packages()  # linux-image-cloud-amd64, lz4, gcc
        build_binary(s)
        vmlinux, initramfs, kernel_name = prepare_linux(s, boot)
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
    cap_cmd = capsule_command(s, prog_args)
    lin_cmd = linux_command(s, boot, vmlinux, initramfs, prog_args)
    log(f"host: {host['cpu']}, {host['cpus']} CPUs, TSC {host['tsc_khz']} kHz; {host['qemu']}")
    log(f"A (capsule): {' '.join(cap_cmd)}")
    log(f"B (linux):   {' '.join(lin_cmd)}")

    # Untimed first runs: both guests work, the CLI's build step has built
    # capsule.elf, the page cache is warm.
    log("untimed first runs (the first builds the kernel if needed)")
    one_run(s, "capsule", cap_cmd, s.capsule_timeout + 600, strict=False)
    one_run(s, "linux", lin_cmd, s.linux_timeout, strict=True)

    cap, lin = [], []
    log(f"measuring {args.runs} runs of each, interleaved")
    for i in range(args.runs):
        cap.append(one_run(s, "capsule", cap_cmd, s.capsule_timeout, strict=False))
        lin.append(one_run(s, "linux", lin_cmd, s.linux_timeout, strict=True))
        log(f"  run {i + 1:2} (capsule/linux): " + "  ".join(
            f"{key} {fmt(cap[-1].get(key))}/{fmt(lin[-1].get(key))}" for key, *_ in s.figures))

    figures = {}
    for key, label, unit, higher_better in s.figures:
        entry = {"label": label, "unit": unit, "higher_is_better": higher_better}
        for side, runs in (("capsule", cap), ("linux", lin)):
            xs = [r[key] for r in runs if isinstance(r.get(key), float)]
            notes = sorted({r[key] for r in runs if isinstance(r.get(key), str)})
            entry[side] = summary(xs) if xs else None
            entry[side + "_samples"] = xs
            if notes:
                entry[side + "_unavailable"] = notes
        c, l_ = entry["capsule"], entry["linux"]
        r = c["median"] / l_["median"] if c and l_ else None
        entry["ratio_capsule_over_linux"] = r
        # Capsule's speed relative to Linux: above 1, Capsule is faster.
        entry["capsule_speedup"] = (r if higher_better else 1 / r) if r else None
        figures[key] = entry

    def show(v):
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

    def facts(runs):
        return {f: sorted({show(r.get(f, "?")) for r in runs}) for f in s.facts}

    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": host, "runs": args.runs, "scale": args.scale, "mem": s.mem, "cpus": s.cpus,
        "capsule_cmd": cap_cmd, "linux_cmd": lin_cmd, "linux_kernel": kernel_name,
        "facts": {"capsule": facts(cap), "linux": facts(lin)},
        "problems": {"capsule": [r["problem"] for r in cap if "problem" in r]},
        "figures": figures,
        "runs_raw": {"capsule": cap, "linux": lin},
    }
    report(s, res)
    if args.json:
        boot.write_json(res, args.json)
    return 0


def fmt(v):
    if isinstance(v, float):
        return f"{v:.1f}"
    return "n/a" if v is None else "unavailable"


def report(s, res):
    log(f"\nbench/{s.name}, {res['runs']} runs each (medians), microvm TCG -cpu max, "
        f"-m {res['mem']} -smp {res['cpus']}, {res['host']['qemu']}")
    log(f"  Linux guest: Debian {res['linux_kernel']}")
    log(f"  {'figure':<46} {'unit':>7} {'capsule':>11} {'linux':>11} {'capsule/linux':>14} "
        f"{'capsule speed':>14}")
    for f in res["figures"].values():
        def cell(side):
            if f[side]:
                return f"{f[side]['median']:.2f}"
            return "unavailable" if f.get(side + "_unavailable") else "no figure"
        r, sp = f["ratio_capsule_over_linux"], f["capsule_speedup"]
        log(f"  {f['label']:<46} {f['unit']:>7} {cell('capsule'):>11} {cell('linux'):>11} "
            f"{(f'{r:.2f}x' if r else 'n/a'):>14} {(f'{sp:.2f}x' if sp else 'n/a'):>14}")
        for side in ("capsule", "linux"):
            for note in f.get(side + "_unavailable", []):
                log(f"      {side}: {note}")
    log("  (capsule speed: above 1 Capsule is faster; it is capsule/linux for rates, "
        "linux/capsule for times)")
    for side in ("capsule", "linux"):
        log(f"  {side}: {s.facts_line(res['facts'][side])}")
    if res["problems"]["capsule"]:
        probs = res["problems"]["capsule"]
        log(f"  capsule: {len(probs)} of {res['runs']} runs did not finish: "
            f"{'; '.join(sorted(set(probs)))} (figures missing from a run: it ended "
            "while measuring them; see output_tail in the JSON)")
