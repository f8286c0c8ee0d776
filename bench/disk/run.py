#!/usr/bin/env python3
"""bench/disk: files on an ext4 disk, Capsule against a Linux guest on the same QEMU.

One static program, bench/disk/disk_bench.c (built here with `gcc -static
-O2` and Debian's libsqlite3.a into build/bench/disk/), runs as the whole
guest over an ext4 file system on a virtio-blk disk: in Capsule through
`./capsule run --disk IMG:/data`, in Linux as /init of an initramfs next to
bench/boot's vmlinux (Debian's cloud kernel, PVH), which loads the kernel's
own virtio and virtio_blk modules (ext4 is built in) and mounts /dev/vda.
Both on microvm, TCG `-cpu max`, the same -m and -smp, and the same disk:
a raw image (`mke2fs -t ext4 -b 4096 -d`, holding two files of random
bytes for the cold reads), a fresh copy for every run, attached as the
CLI attaches it (virtio-blk-device, modern virtio-mmio, cache=unsafe:
QEMU ignores flushes, so a flush costs the guest its request and no host
fsync). Figures (the program's comment says how each is taken):

  seq_write_mb_s, seq_read_mb_s, rand_read_iops, rand_write_iops,
  fsync_p50_us, fsync_p99_us, sqlite_commits_s, sqlite_rows_s

Runs are interleaved (A B A B ...) after one untimed run of each; it
reports medians, the ratio Capsule / Linux and Capsule's speed, and writes
build/bench/disk/result.json. With --requests it then boots Capsule once
more with `--trace=block,syscall` and prints the block requests (reads,
writes, flushes) each kind of system call caused.

Then the program-start figures (start.py): `java -version` from a disk
root and from an initrd, in both guests, time to its first line.

Usage: python3 bench/disk/run.py [--runs N] [--scale F] [--only files|start]
                                 [--start-runs N] [--json FILE]
       (or `./capsule bench disk ...`).
"""
import argparse
import datetime
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import side_by_side  # noqa: E402
import start  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parents[0].parent
MEM = "256M"
IMAGE_SIZE = "256M"
# The cloud kernel's modules for a virtio-mmio disk, each after what it needs.
LINUX_MODULES = ("virtio_ring", "virtio", "virtio_mmio", "virtio_blk")


def facts_line(p):
    return f"timer {'/'.join(p['timer'])}"


SPEC = side_by_side.Spec(
    name="disk",
    description="Sequential and random I/O, fsync latency and sqlite inserts on an ext4 virtio-blk disk: "
                "Capsule against a Linux guest on the same QEMU.",
    source="disk_bench.c",
    figures=[
        ("seq_write_mb_s", "32 MiB new file, 1 MiB write()s + fsync", "MB/s", True),
        ("seq_read_mb_s", "32 MiB file, 1 MiB read()s, cold", "MB/s", True),
        ("rand_read_iops", "4 KiB pread() at random, cold, 64 MiB file", "IOPS", True),
        ("rand_write_iops", "4 KiB pwrite() at random + one fsync", "IOPS", True),
        ("fsync_p50_us", "append 4 KiB + fsync, median", "us", False),
        ("fsync_p99_us", "append 4 KiB + fsync, 99th percentile", "us", False),
        ("sqlite_commits_s", "sqlite INSERT, one per transaction", "1/s", True),
        ("sqlite_rows_s", "sqlite INSERT, 20,000 in one transaction", "rows/s", True),
    ],
    facts=("timer",),
    facts_line=facts_line,
    mem=MEM,
    capsule_timeout=600.0,
    linux_timeout=600.0,
)


def log(msg):
    print(msg, flush=True)


def build(s):
    src = BENCH / s.source
    s.work.mkdir(parents=True, exist_ok=True)
    inputs = (src, BENCH.parent / "guest_bench.h", BENCH.parent / "linux_init.h")
    if s.binary.exists() and all(s.binary.stat().st_mtime >= p.stat().st_mtime for p in inputs):
        return
    log(f"building {s.binary.relative_to(ROOT)} (gcc -static -O2, libsqlite3.a)")
    r = subprocess.run(["gcc", "-static", "-O2", "-pthread", "-Wall", "-o", str(s.binary), str(src),
                        "-lsqlite3", "-lm", "-ldl"], capture_output=True, text=True)
    if r.returncode != 0:
        raise side_by_side.BenchError(f"building {s.binary.name} failed (libsqlite3-dev and libc6-dev "
                                      "installed?):\n" + r.stderr.strip())


def make_template(s):
    """The starting image: ext4 with 4 KiB blocks holding seq (32 MiB) and
    rand (64 MiB) of random bytes; made once, copied for every run."""
    img = s.work / "template.img"
    if img.exists() and not side_by_side.boot_module().stale(img, Path(__file__)):
        return img
    tree = s.work / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    rnd = random.Random(14)
    (tree / "seq").write_bytes(rnd.randbytes(32 << 20))
    (tree / "rand").write_bytes(rnd.randbytes(64 << 20))
    if img.exists():
        img.unlink()
    r = subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-E", "root_owner=0:0",
                        "-d", str(tree), str(img), IMAGE_SIZE], capture_output=True, text=True)
    shutil.rmtree(tree, ignore_errors=True)
    if r.returncode != 0:
        raise side_by_side.BenchError("mke2fs failed: " + r.stdout + r.stderr)
    return img


def linux_modules(kname):
    version = kname[len("vmlinuz-"):]
    out = []
    for m in LINUX_MODULES:
        r = subprocess.run(["modinfo", "-k", version, "-n", m], capture_output=True, text=True)
        path = r.stdout.strip()
        if r.returncode != 0 or not path.endswith(".ko"):
            raise side_by_side.BenchError(f"module {m} of {version} not found as an uncompressed .ko "
                                          f"(modinfo: {r.stderr.strip() or path})")
        out.append((f"/m/{m}.ko", path))
    return out


def disk_qemu_args(img, snapshot=False):
    # What tools/capsule/capsule_cli/qemu.py disk_args gives `--disk` on microvm;
    # snapshot: writes go to a temporary file, the image stays as it is.
    snap = ",snapshot=on" if snapshot else ""
    return ["-global", "virtio-mmio.force-legacy=false",
            "-drive", f"file={img},if=none,id=capsule-disk0,format=raw,cache=unsafe{snap}",
            "-device", "virtio-blk-device,drive=capsule-disk0,serial=capsule0"]


def run(s, args):
    boot = side_by_side.boot_module()
    try:
        if not shutil.which("qemu-system-x86_64"):
            raise side_by_side.BenchError("qemu-system-x86_64 not found (Debian package qemu-system-x86)")
        boot.ensure_packages()
        host = boot.host_description()
    except boot.BenchError as e:
        raise side_by_side.BenchError(str(e))
    build(s)
    vmlinuz = boot.find_vmlinuz()
    modules = tuple(linux_modules(vmlinuz.name))
    s.extra_files = modules
    s.linux_init_args = ("--linux", *LINUX_MODULES)
    vmlinux, initramfs, kernel_name = side_by_side.prepare_linux(s, boot)
    if args.only == "start":
        return run_start(s, args, boot, host, vmlinux, kernel_name, modules)
    template = make_template(s)
    img = s.work / "disk.img"
    prog_args = []
    if host["tsc_khz"]:
        prog_args.append(f"--tsc-rate={host['tsc_khz']}")
    if args.scale != 1.0:
        prog_args.append(f"--scale={args.scale:g}")
    prog_args.append("/data")
    s.extra_files = ()  # Capsule's image needs no modules
    cap_cmd = side_by_side.capsule_command(s, prog_args)
    cap_cmd[cap_cmd.index("--cpus"):cap_cmd.index("--cpus")] = ["--disk", f"{img}:/data"]
    lin_cmd = side_by_side.linux_command(s, boot, vmlinux, initramfs, prog_args) + disk_qemu_args(img)
    log(f"host: {host['cpu']}, {host['cpus']} CPUs, TSC {host['tsc_khz']} kHz; {host['qemu']}")
    log(f"A (capsule): {' '.join(cap_cmd)}")
    log(f"B (linux):   {' '.join(lin_cmd)}")

    def one(name, cmd, timeout, strict):
        shutil.copyfile(template, img)
        return side_by_side.one_run(s, name, cmd, timeout, strict)

    log("untimed first runs (the first builds the kernel if needed)")
    one("capsule", cap_cmd, s.capsule_timeout + 600, strict=True)
    one("linux", lin_cmd, s.linux_timeout, strict=True)
    cap, lin = [], []
    log(f"measuring {args.runs} runs of each, interleaved")
    for i in range(args.runs):
        cap.append(one("capsule", cap_cmd, s.capsule_timeout, strict=False))
        lin.append(one("linux", lin_cmd, s.linux_timeout, strict=True))
        log(f"  run {i + 1:2} (capsule/linux): " + "  ".join(
            f"{key} {side_by_side.fmt(cap[-1].get(key))}/{side_by_side.fmt(lin[-1].get(key))}"
            for key, *_ in s.figures))
    figures = {}
    for key, label, unit, higher_better in s.figures:
        entry = {"label": label, "unit": unit, "higher_is_better": higher_better}
        for side, runs in (("capsule", cap), ("linux", lin)):
            xs = [r[key] for r in runs if isinstance(r.get(key), float)]
            entry[side] = side_by_side.summary(xs) if xs else None
            entry[side + "_samples"] = xs
        c, l_ = entry["capsule"], entry["linux"]
        r = c["median"] / l_["median"] if c and l_ else None
        entry["ratio_capsule_over_linux"] = r
        entry["capsule_speedup"] = (r if higher_better else 1 / r) if r else None
        figures[key] = entry

    def facts(runs):
        return {f: sorted({str(r.get(f, "?")) for r in runs}) for f in s.facts}

    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": host, "runs": args.runs, "scale": args.scale, "mem": s.mem, "cpus": s.cpus,
        "capsule_cmd": cap_cmd, "linux_cmd": lin_cmd, "linux_kernel": kernel_name,
        "disk": "raw ext4 image (4 KiB blocks), virtio-blk-device on virtio-mmio, cache=unsafe",
        "facts": {"capsule": facts(cap), "linux": facts(lin)},
        "problems": {"capsule": [r["problem"] for r in cap if "problem" in r]},
        "figures": figures,
        "runs_raw": {"capsule": cap, "linux": lin},
    }
    side_by_side.report(s, res)
    if args.requests:
        requests(s, cap_cmd, template, img)
    if args.only != "files" and args.start_runs > 0:
        try:
            res["start"] = start.run(s.work / "start", args.start_runs, boot, vmlinux, modules,
                                     disk_qemu_args)
        except start.StartError as e:
            raise side_by_side.BenchError(f"program start: {e}")
    if args.json:
        boot.write_json(res, args.json)
    return 0


def run_start(s, args, boot, host, vmlinux, kernel_name, modules):
    """--only start: the program-start figures alone (start.py)."""
    log(f"host: {host['cpu']}, {host['cpus']} CPUs, TSC {host['tsc_khz']} kHz; {host['qemu']}")
    try:
        res = start.run(s.work / "start", max(args.start_runs, 1), boot, vmlinux, modules,
                        disk_qemu_args)
    except start.StartError as e:
        raise side_by_side.BenchError(f"program start: {e}")
    if res is not None and args.json:
        res.update({"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                    "host": host, "linux_kernel": kernel_name})
        boot.write_json({"start": res}, args.json)
    return 0


def requests(s, cap_cmd, template, img):
    """One more Capsule run with --trace=block,syscall: the block requests
    (reads, writes, flushes) each kind of system call caused, per call,
    from the kernel's own tracepoints (docs/trace.md)."""
    import collections
    import re
    shutil.copyfile(template, img)
    dat = s.work / "requests.dat"
    cmd = list(cap_cmd)
    at = cmd.index("run") + 1
    cmd[at:at] = ["--trace=block,syscall", "--trace-buffer", "4096", "--trace-output", str(dat)]
    rc, out, _ = side_by_side.run_guest(cmd, s.capsule_timeout)
    if rc != 0:
        raise side_by_side.BenchError(f"the traced run failed (status {rc}):\n{out[-2000:]}")
    text = subprocess.run([str(ROOT / "capsule"), "trace", str(dat)], capture_output=True, text=True).stdout
    per = collections.defaultdict(collections.Counter)
    call = None
    for line in text.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        if f[3] == "syscall_enter":
            call = f[4].split("(")[0]
            per[call]["calls"] += 1
        elif f[3] == "syscall_exit":
            call = None
        elif f[3] == "block_submit":
            m = re.search(r"bytes=(\d+) op=(\w+)", line)
            if m:
                per[call or "(none)"][m.group(2)] += 1
                per[call or "(none)"][m.group(2) + "_bytes"] += int(m.group(1))
    log("\ncapsule: block requests per system call (--trace=block,syscall, one run):")
    log(f"  {'call':<12} {'calls':>7} {'reads':>7} {'writes':>7} {'flushes':>7}   per call: "
        f"{'reads':>6} {'writes':>6} {'flushes':>7} {'KiB written':>11}")
    rows = sorted(per.items(), key=lambda kv: -(kv[1]["read"] + kv[1]["write"] + kv[1]["flush"]))
    for name, c in rows:
        if not (c["read"] or c["write"] or c["flush"]):
            continue
        n = c["calls"] or 1
        log(f"  {name:<12} {c['calls']:>7} {c['read']:>7} {c['write']:>7} {c['flush']:>7}   per call: "
            f"{c['read'] / n:>6.1f} {c['write'] / n:>6.1f} {c['flush'] / n:>7.2f} {c['write_bytes'] / n / 1024:>11.1f}")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench/disk", description=SPEC.description)
    ap.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the program's counts by this (not the file sizes; default 1)")
    ap.add_argument("--requests", action="store_true",
                    help="then one traced Capsule run: block requests and flushes per system call")
    ap.add_argument("--only", choices=("files", "start"),
                    help="only the file figures, or only the program start (java from disk and initrd)")
    ap.add_argument("--start-runs", type=int, default=3,
                    help="rounds of the program-start figures (default 3; 0: none)")
    ap.add_argument("--json", default=str(SPEC.work / "result.json"),
                    help="where to write the results (default build/bench/disk/result.json; '' for none)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if not args.scale > 0:
        ap.error("--scale must be positive")
    try:
        return run(SPEC, args)
    except side_by_side.BenchError as e:
        print(f"bench/disk: error: {e}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
