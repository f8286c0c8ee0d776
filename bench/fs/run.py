#!/usr/bin/env python3
"""bench/fs: files, sequential I/O, pipes and epoll, Capsule against a Linux guest.

One static program, bench/fs/fs_bench.c (built here with
`gcc -static -O2 -pthread` into build/bench/fs/), measures from inside the
guest:
  files_ops_s      files/s through create + stat + unlink, 2000 files in one dir
  seq_write_mb_s   a 32 MiB file written in 64 KiB writes (tmpfs / ramfs)
  seq_read_mb_s    ... and read back in 64 KiB reads
  pipe_mb_s        64 MiB through a pipe between two threads, 64 KiB writes
  pipe_rtt_us      1-byte ping-pong between two threads over two pipes
  epoll_wait_us    1000 pipes in one epoll, one made ready per iteration:
                   write + epoll_wait + read
It runs in Capsule (`./capsule run --accel tcg build/bench/fs/fs_bench`) and
as /init of the Linux guest bench/boot prepares (Debian's cloud kernel, ELF
vmlinux via PVH, a tmpfs mounted on /bench by the program), both on microvm,
TCG `-cpu max`, the same -m and -smp. Runs are interleaved (A B A B ...); it
reports the median of each figure and Capsule's speed relative to Linux
(above 1: Capsule is faster, whichever way the figure's unit goes), and
writes build/bench/fs/result.json.

Usage: python3 bench/fs/run.py [--runs N] [--scale F] [--json FILE]
       (or `./capsule bench fs ...`, which calls main(argv)).
Python 3 standard library only; host packages come from Debian (apt-get,
only when missing), through bench/boot's own setup.
"""
import argparse
import datetime
import importlib.util
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORK = ROOT / "build" / "bench" / "fs"
SRC = HERE / "fs_bench.c"
BINARY = WORK / "fs_bench"

MEM = "256M"   # a 32 MiB file in a tmpfs next to Linux's own ~70 MiB
CPUS = 1
CAPSULE_TIMEOUT = 180.0  # seconds per Capsule run
LINUX_TIMEOUT = 240.0    # seconds per Linux run

# (key printed by the program, label, unit, higher_is_better)
FIGURES = [
    ("files_ops_s", "create+stat+unlink, 2000 files in one dir", "files/s", True),
    ("create_us", "  of which create (open O_CREAT, close)", "us", False),
    ("stat_us", "  of which stat", "us", False),
    ("unlink_us", "  of which unlink", "us", False),
    ("seq_write_mb_s", "32 MiB file, 64 KiB write()s", "MiB/s", True),
    ("seq_read_mb_s", "32 MiB file, 64 KiB read()s", "MiB/s", True),
    ("pipe_mb_s", "pipe between two threads, 64 KiB writes", "MiB/s", True),
    ("pipe_rtt_us", "pipe ping-pong round trip, 1 byte", "us", False),
    ("epoll_wait_us", "epoll_wait, 1000 fds, 1 ready (+write+read)", "us", False),
]
FACTS = ("fs", "timer", "nofile")


class BenchError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception as e:
        raise BenchError(f"cannot load {path}: {type(e).__name__}: {e}")
    return mod


def boot_module():
    """bench/boot/run.py: the Linux guest (vmlinux, initramfs writer, QEMU command)."""
    return load("capsule_bench_boot", HERE.parent / "boot" / "run.py")


def syscall_module():
    """bench/syscall/run.py: running a guest with a timeout and parsing its lines."""
    return load("capsule_bench_syscall", HERE.parent / "syscall" / "run.py")


# ---------------------------------------------------------------- preparation

def build_binary():
    WORK.mkdir(parents=True, exist_ok=True)
    if BINARY.exists() and BINARY.stat().st_mtime >= SRC.stat().st_mtime:
        return
    log(f"building {BINARY.relative_to(ROOT)} (gcc -static -O2 -pthread)")
    r = subprocess.run(["gcc", "-static", "-O2", "-pthread", "-Wall", "-o", str(BINARY),
                        str(SRC)], capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError("building fs_bench failed (is libc6-dev installed?):\n"
                         + r.stderr.strip())


def prepare_linux(boot):
    """(vmlinux, initramfs, kernel package name): bench/boot's cached vmlinux,
    an initramfs with fs_bench as /init."""
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
    cmd[cmd.index("-m") + 1] = MEM
    cmd[cmd.index("-smp") + 1] = str(CPUS)
    # tsc=reliable: no clocksource watchdog (see bench/README.md, bench/syscall):
    # under TCG it can demote the TSC to jiffies and spoil every timing.
    # Linux passes the words after "--" to init as its arguments.
    i = cmd.index("-append") + 1
    cmd[i] += " tsc=reliable -- --poweroff " + " ".join(prog_args)
    return cmd


def capsule_command(prog_args):
    cli = ROOT / "capsule"
    if not cli.exists():
        raise BenchError(f"{cli} not found (the capsule CLI)")
    return [str(cli), "run", "--accel", "tcg", "--machine", "microvm", "--mem", MEM,
            "--cpus", str(CPUS), str(BINARY.relative_to(ROOT))] + list(prog_args)


# ---------------------------------------------------------------- running

def one_run(sc, name, cmd, timeout, strict):
    """One guest run: its parsed lines. A run that does not end with
    'bench: done ok' raises when strict (or when it gave no figure at all),
    else keeps what it printed and notes the problem."""
    rc, out, wall = sc.run_guest(cmd, timeout)
    res = sc.parse(out)
    problem = None
    if rc is None:
        problem = f"timed out after {timeout:.0f} s"
    elif res.get("done") != "ok":
        problem = f"ended (exit {rc}) without 'bench: done ok'"
    elif rc != 0:
        problem = f"exit status {rc}, not 0"
    if problem:
        msg = f"{name}: {problem}\n$ {' '.join(cmd)}\n{out[-3000:]}"
        if strict or not any(isinstance(res.get(k), float) for k, *_ in FIGURES):
            raise BenchError(msg)
        log("  warning: " + msg.replace("\n", "\n    "))
        res["problem"] = problem
        res["output_tail"] = out[-800:]
    res["wall_s"] = round(wall, 3)
    return res


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench/fs",
                                 description="File create/stat/unlink, sequential tmpfs "
                                             "I/O, pipe throughput and latency, epoll_wait "
                                             "with 1000 fds: Capsule against a Linux guest "
                                             "on the same QEMU.")
    ap.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the program's iteration counts and sizes by this "
                         "(default 1)")
    ap.add_argument("--json", default=str(WORK / "result.json"),
                    help="where to write the results (default build/bench/fs/"
                         "result.json; '' for none)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if not args.scale > 0:
        ap.error("--scale must be positive")
    try:
        return run(args)
    except BenchError as e:
        print(f"bench/fs: error: {e}", file=sys.stderr, flush=True)
        return 1


def run(args):
    boot = boot_module()
    sc = syscall_module()
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
        # Only used where clock_gettime fails. Not "--tsc-khz=": the CLI then
        # leaves out its own --tsc-khz for Capsule's kernel.
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
    one_run(sc, "capsule", cap_cmd, CAPSULE_TIMEOUT + 600, strict=False)
    one_run(sc, "linux", lin_cmd, LINUX_TIMEOUT, strict=True)

    cap, lin = [], []
    log(f"measuring {args.runs} runs of each, interleaved")
    for i in range(args.runs):
        cap.append(one_run(sc, "capsule", cap_cmd, CAPSULE_TIMEOUT, strict=False))
        lin.append(one_run(sc, "linux", lin_cmd, LINUX_TIMEOUT, strict=True))
        log(f"  run {i + 1:2} (capsule/linux): " + "  ".join(
            f"{key} {fmt(cap[-1].get(key))}/{fmt(lin[-1].get(key))}"
            for key, *_ in FIGURES))

    figures = {}
    for key, label, unit, higher_better in FIGURES:
        entry = {"label": label, "unit": unit, "higher_is_better": higher_better}
        for side, runs in (("capsule", cap), ("linux", lin)):
            xs = [r[key] for r in runs if isinstance(r.get(key), float)]
            notes = sorted({r[key] for r in runs if isinstance(r.get(key), str)})
            entry[side] = sc.summary(xs) if xs else None
            entry[side + "_samples"] = xs
            if notes:
                entry[side + "_unavailable"] = notes
        c, l_ = entry["capsule"], entry["linux"]
        entry["ratio_capsule_over_linux"] = c["median"] / l_["median"] if c and l_ else None
        # Capsule's speed relative to Linux: above 1, Capsule is faster.
        r = entry["ratio_capsule_over_linux"]
        entry["capsule_speedup"] = (r if higher_better else 1 / r) if r else None
        figures[key] = entry

    def show(v):
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

    def facts(runs):
        return {f: sorted({show(r.get(f, "?")) for r in runs}) for f in FACTS}

    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": host, "runs": args.runs, "scale": args.scale, "mem": MEM, "cpus": CPUS,
        "capsule_cmd": cap_cmd, "linux_cmd": lin_cmd, "linux_kernel": kernel_name,
        "facts": {"capsule": facts(cap), "linux": facts(lin)},
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
    return "n/a" if v is None else "unavailable"


def report(res):
    log(f"\nbench/fs, {res['runs']} runs each (medians), microvm TCG -cpu max, "
        f"-m {res['mem']} -smp {res['cpus']}, {res['host']['qemu']}")
    log(f"  Linux guest: Debian {res['linux_kernel']}")
    log(f"  {'figure':<46} {'unit':>7} {'capsule':>11} {'linux':>11} {'capsule/linux':>14} "
        f"{'capsule speed':>14}")
    for key, f in res["figures"].items():
        def cell(side):
            if f[side]:
                return f"{f[side]['median']:.2f}"
            return "unavailable" if f.get(side + "_unavailable") else "no figure"
        r = f["ratio_capsule_over_linux"]
        s = f["capsule_speedup"]
        log(f"  {f['label']:<46} {f['unit']:>7} {cell('capsule'):>11} {cell('linux'):>11} "
            f"{(f'{r:.2f}x' if r else 'n/a'):>14} {(f'{s:.2f}x' if s else 'n/a'):>14}")
        for side in ("capsule", "linux"):
            for note in f.get(side + "_unavailable", []):
                log(f"      {side}: {note}")
    log("  (capsule speed: above 1 Capsule is faster; it is capsule/linux for rates, "
        "linux/capsule for times)")
    for side in ("capsule", "linux"):
        p = res["facts"][side]
        log(f"  {side}: file system {' / '.join(p['fs'])}, timer {'/'.join(p['timer'])}, "
            f"RLIMIT_NOFILE {'/'.join(p['nofile'])}")
    if res["problems"]["capsule"]:
        probs = res["problems"]["capsule"]
        log(f"  capsule: {len(probs)} of {res['runs']} runs did not finish: "
            f"{'; '.join(sorted(set(probs)))} (figures missing from a run: it ended "
            "while measuring them; see output_tail in the JSON)")


if __name__ == "__main__":
    sys.exit(main())
