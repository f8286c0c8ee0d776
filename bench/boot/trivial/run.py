#!/usr/bin/env python3
"""bench/boot/trivial: Capsule's QEMU alone (static hello) against a trivial
PVH kernel on the same QEMU, and the smallest -m each runs in (issue 16).

The trivial kernel (trivial.S, trivial.ld, built here with gcc and ld into
build/bench/trivial/) prints the hello's line on COM1 and powers off the
way Capsule does. Series, interleaved round by round (same machine load):
  capsule     the exact QEMU command `capsule run` runs for bench/run's
              static hello (the CLI's own vm_settings and qemu.command, the
              image packed in-process; no CLI around it);
  capsule K   the same command with another kernel (--kernel K, repeatable:
              e.g. main's build, for before/after in the same rounds; K@REV
              packs its image with git revision REV's cpio writer);
  trivial     the same command, -kernel trivial.elf: QEMU does the same
              work (devices, -m, the initrd loaded), the guest nothing;
  trivial-no-initrd  the same without -initrd.
Each run is timed from the process start to the hello's line on stdout and
to the exit; medians, and each series over the trivial kernel's median.
One extra Capsule run with --bootchart gives the kernel's phases.
--floor: the smallest -m (MiB, from --floor-from down) at which each kernel
prints the line and exits 0.

Usage: python3 bench/boot/trivial/run.py [--runs N] [--mem M] [--kernel ELF]...
                                         [--floor] [--json FILE]
"""
import argparse
import datetime
import importlib.util
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
WORK = ROOT / "build" / "bench" / "trivial"
TRIVIAL = WORK / "trivial.elf"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# bench/run/run.py: the hello, the QEMU-alone command, the line timing.
brun = _load("capsule_bench_run", ROOT / "bench" / "run" / "run.py")
share = _load("capsule_bench_share", ROOT / "bench" / "run" / "kernel_share.py")
BenchError = brun.BenchError
log = brun.log


def build_trivial():
    WORK.mkdir(parents=True, exist_ok=True)
    src, lds = HERE / "trivial.S", HERE / "trivial.ld"
    if not brun.boot.stale(TRIVIAL, src, lds):
        return
    obj = WORK / "trivial.o"
    for cmd in (["gcc", "-c", "-o", str(obj), str(src)],
                ["ld", "-nostdlib", "-static", "-T", str(lds), "-o", str(TRIVIAL), str(obj)]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"building the trivial kernel failed:\n$ {' '.join(cmd)}\n{r.stderr}")


def with_kernel(cmd, kernel, initrd=True):
    out = list(cmd)
    out[out.index("-kernel") + 1] = str(kernel)
    if not initrd:
        i = out.index("-initrd")
        del out[i:i + 2]
    return out


def with_mem(cmd, mib):
    out = list(cmd)
    out[out.index("-m") + 1] = f"{mib}M"
    return out


FLOOR_TIMEOUT = 30.0  # s: a size where the initrd lands on the kernel hangs


def runs_ok(cmd, line, status):
    r = brun.time_to_line(cmd, line, FLOOR_TIMEOUT)
    if r["rc"] is None or r["first_ms"] is None:
        return False, r
    guest, why = status(r["rc"])
    return (not why and guest == 0), r


def floor(cmd, line, status, start):
    """The smallest -m in MiB (from `start` down) that works, and what the
    first failing size printed."""
    best, failure = None, ""
    for mib in range(start, 0, -1):
        ok, r = runs_ok(with_mem(cmd, mib), line, status)
        if not ok:
            failure = f"-m {mib}M: exit {r['rc']}: " + (r["out"] + r["err"]).strip()[-300:]
            break
        best = mib
    return best, failure


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench/boot/trivial", description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--mem", default="", help="-m for every series (default: what capsule run picks)")
    ap.add_argument("--kernel", action="append", default=[],
                    help="another capsule.elf to time too; ELF@REV: its image packed by git revision REV's "
                         "cpio writer (the format changed with issue 16)")
    ap.add_argument("--floor", action="store_true", help="also find the smallest -m of each kernel")
    ap.add_argument("--floor-from", type=int, default=16)
    ap.add_argument("--json", default=str(WORK / "result.json"))
    args = ap.parse_args(argv)
    try:
        return run(args)
    except BenchError as e:
        print(f"bench/boot/trivial: error: {e}", file=sys.stderr, flush=True)
        return 1


def run(args):
    cli = brun.cli_modules()
    brun.build_programs()
    build_trivial()
    _, _, line = brun.PROGRAMS["hello"]
    first = brun.image_build(cli, "hello", brun.CACHES / "inproc-hello")
    mem = args.mem or f"{first['mem_mib']}M"
    alone = brun.qemu_alone(cli, "hello", mem)
    if not alone:
        raise BenchError("cannot build Capsule's QEMU command for the hello")
    cap_cmd, status_file = alone
    # Kept apart: qemu_alone's directory is made afresh for each image.
    kept = WORK / "hello.cpio"
    Path(cap_cmd[cap_cmd.index("-initrd") + 1]).replace(kept)
    cap_cmd[cap_cmd.index("-initrd") + 1] = str(kept)
    status = lambda rc: cli.qemu.decode_status(rc, str(status_file))  # noqa: E731
    series = {"capsule": cap_cmd}
    for k in args.kernel:
        path, _, rev = k.partition("@")
        cmd = with_kernel(cap_cmd, os.path.abspath(path))
        if rev:  # that kernel reads the image format of git revision `rev`
            old = share.command(cli, "hello", Path(path).resolve(), share.old_writer(rev), mem)[0]
            cmd[cmd.index("-initrd") + 1] = old[old.index("-initrd") + 1]
        series[f"capsule {k}"] = cmd
    series["trivial"] = with_kernel(cap_cmd, TRIVIAL)
    series["trivial-no-initrd"] = with_kernel(cap_cmd, TRIVIAL, initrd=False)
    for name, cmd in series.items():
        log(f"{name}: {' '.join(cmd)}")
        brun.checked(name, cmd, line, brun.CAPSULE_TIMEOUT, status=status)  # untimed, warms up

    samples = {n: {"first_ms": [], "exit_ms": []} for n in series}
    for i in range(args.runs):
        cells = []
        for name, cmd in series.items():
            r = brun.checked(name, cmd, line, brun.CAPSULE_TIMEOUT, status=status)
            samples[name]["first_ms"].append(r["first_ms"])
            samples[name]["exit_ms"].append(r["wall_ms"])
            cells.append(f"{name} {r['first_ms']:.0f}/{r['wall_ms']:.0f}")
        log(f"  round {i + 1:2}: first line / exit (ms): " + ", ".join(cells))

    chart_cmd = list(cap_cmd)
    chart_cmd[chart_cmd.index("-append") + 1] = "--bootchart " + chart_cmd[chart_cmd.index("-append") + 1]
    r = brun.checked("capsule --bootchart", chart_cmd, line, brun.CAPSULE_TIMEOUT, status=status)
    chart = [ln.rstrip("\r") for ln in r["out"].splitlines() if ln.startswith(("bootchart:", "booted in"))]

    floors = {}
    if args.floor:
        for name in [n for n in series if n != "trivial-no-initrd"]:
            floors[name] = floor(series[name], line, status, args.floor_from)

    summ = {n: {k: brun.summary(v) for k, v in s.items()} for n, s in samples.items()}
    triv = summ["trivial"]
    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": brun.boot.host_description(), "runs": args.runs, "mem": mem,
        "commands": series, "series": summ, "samples": samples, "bootchart": chart,
        "ratio_over_trivial": {n: {k: s[k]["median"] / triv[k]["median"] for k in s}
                               for n, s in summ.items()},
        "floor_mib": {n: f[0] for n, f in floors.items()},
        "floor_failure": {n: f[1] for n, f in floors.items()},
    }
    log(f"\nbench/boot/trivial, {args.runs} rounds, microvm TCG, -m {mem} -smp 1 "
        f"({res['host']['qemu']}); ms, median (min-max)")
    log(f"  {'series':<40} {'first line':>20} {'exit':>20} {'x trivial':>12}")
    for n, s in summ.items():
        c = [f"{s[k]['median']:.1f} ({s[k]['min']:.0f}-{s[k]['max']:.0f})" for k in ("first_ms", "exit_ms")]
        rt = res["ratio_over_trivial"][n]
        log(f"  {n:<40} {c[0]:>20} {c[1]:>20} {rt['first_ms']:5.2f}/{rt['exit_ms']:4.2f}")
    for ln in chart:
        log("  " + ln)
    for n, (mib, why) in floors.items():
        log(f"  smallest -m for {n}: {mib} MiB" + (f" (below: {why})" if why else ""))
    if args.json:
        brun.boot.write_json(res, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
