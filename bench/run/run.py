#!/usr/bin/env python3
"""bench/run: time to first output through `capsule run`, against a Linux guest.

Two programs, each run the way a user runs it:
  hello    a static C hello (bench/run/hello.c, built here with
           `gcc -static -O2 -s` into build/bench/run/);
  python3  `python3 -c 'print(1)'` (the CLI takes the bundled python3 module:
           Debian's python3.11 with its standard library).
Series, interleaved round by round (hello: cold, cached, QEMU alone, linux;
then python3 the same), so every series sees the same machine load:
  capsule cold    `./capsule run ...` with CAPSULE_CACHE pointing at a fresh,
                  empty directory: the CLI hashes and packs the image anew;
  capsule cached  the same command again on that directory: an image cache hit;
  QEMU alone      the QEMU command `capsule run` runs (from the CLI's own
                  vm_settings and qemu.command), without the CLI around it;
  linux           QEMU booting Debian's linux-image-cloud-amd64 (bench/boot's
                  ELF vmlinux, PVH) on the same machine, accelerator, -m and
                  -smp, with an initramfs holding the same program: the hello
                  as /init, or the files the python3 module packs (collected by
                  the CLI's own bundle code) plus a static /init that runs
                  /usr/bin/python3 -c 'print(1)' and powers off after it exits.
Each run is timed from the process start to the first byte of the expected
line on its stdout (the pipe is read as it fills and each chunk timestamped),
and to the process exit. Besides, in-process (importing capsule_cli): the
CLI's image build for each program (bundle.make_plan, then imagecache.image_for
on an empty cache, then once more as a hit) and the image size.
Prints medians, min and max, the ratios Linux / Capsule, and writes
build/bench/run/result.json.

Usage: python3 bench/run/run.py [--runs N] [--json FILE]
       (or `./capsule bench run ...`, which calls main(argv)).
Python 3 standard library only; host packages come from Debian (apt-get,
only when missing), through bench/boot's own setup.
"""
import argparse
import datetime
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORK = ROOT / "build" / "bench" / "run"
CACHES = WORK / "caches"   # one fresh CAPSULE_CACHE per cold run
HELLO_SRC = HERE / "hello.c"
INIT_SRC = HERE / "linux_init.c"
HELLO = WORK / "hello"
INIT = WORK / "linux_init"

CPUS = 1
CAPSULE_TIMEOUT = 120.0  # seconds per `./capsule run` (about 1 s expected)
LINUX_TIMEOUT = 180.0    # seconds per Linux run (about 2 s expected)

# name -> (program as given to `capsule run`, its arguments, the expected line)
PROGRAMS = {
    "hello": (str(HELLO), [], "capsule-bench: hello, world"),
    "python3": ("python3", ["-c", "print(1)"], "1"),
}
SERIES = ("capsule_cold", "capsule_cached", "capsule_qemu", "linux")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# bench/boot/run.py: the Linux guest (vmlinux, initramfs writer, QEMU command,
# package setup) and the helpers every benchmark shares.
boot = _load("capsule_bench_boot", HERE.parent / "boot" / "run.py")
BenchError = boot.BenchError
log = boot.log
summary = boot.summary


def cli_modules():
    """The CLI's own modules (tools/capsule/capsule_cli): bundle, imagecache,
    cpio, qemu, build, and cli itself."""
    sys.path.insert(0, str(ROOT / "tools" / "capsule"))
    try:
        from capsule_cli import build, bundle, cli, cpio, imagecache, qemu  # noqa: E402
    except Exception as e:
        raise BenchError(f"cannot import capsule_cli: {type(e).__name__}: {e}")
    finally:
        sys.path.pop(0)
    return types.SimpleNamespace(build=build, bundle=bundle, cli=cli, cpio=cpio,
                                 imagecache=imagecache, qemu=qemu)


class CacheDir:
    """CAPSULE_CACHE pointed at `path` for the CLI code run in this process."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.old = os.environ.get("CAPSULE_CACHE")
        os.environ["CAPSULE_CACHE"] = str(self.path)

    def __exit__(self, *exc):
        if self.old is None:
            os.environ.pop("CAPSULE_CACHE", None)
        else:
            os.environ["CAPSULE_CACHE"] = self.old


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# ---------------------------------------------------------------- preparation

def build_programs():
    WORK.mkdir(parents=True, exist_ok=True)
    for src, out in ((HELLO_SRC, HELLO), (INIT_SRC, INIT)):
        if not boot.stale(out, src):
            continue
        log(f"building {out.relative_to(ROOT)} (gcc -static -O2 -s)")
        r = subprocess.run(["gcc", "-static", "-O2", "-s", "-Wall", "-o", str(out), str(src)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"building {src.name} failed (is libc6-dev installed?):\n"
                             + r.stderr.strip())


def image_build(cli, name, cache):
    """The CLI's image build for one program, in this process, on an empty
    image cache: the plan (tree collection: modules, packages, ELF libraries)
    and the image (content hashes + cpio packing), then the same image again
    (a hit: stat per file, nothing packed). Times in ms."""
    bundle, imagecache = cli.bundle, cli.imagecache
    program, args, _ = PROGRAMS[name]
    with CacheDir(fresh_dir(cache)):
        try:
            t0 = time.perf_counter()
            plan = bundle.make_plan(program, args)
            t1 = time.perf_counter()
            packs = imagecache.PACKS
            image = imagecache.image_for(plan.tree)
            t2 = time.perf_counter()
            if imagecache.PACKS != packs + 1:
                raise BenchError(f"{name}: the image was not packed on an empty cache")
            again = imagecache.image_for(plan.tree)
            t3 = time.perf_counter()
            if imagecache.PACKS != packs + 1 or again != image:
                raise BenchError(f"{name}: the second image_for was not a cache hit")
        except bundle.BadInput as e:
            raise BenchError(f"{name}: the CLI refused it: {e}")
        size = os.path.getsize(image)
    shutil.rmtree(cache, ignore_errors=True)
    return {"plan_ms": (t1 - t0) * 1000, "pack_ms": (t2 - t1) * 1000,
            "hit_ms": (t3 - t2) * 1000, "image_bytes": size,
            "entries": len(plan.tree.nodes), "mem_mib": bundle.auto_mem_mib(size),
            "argv": plan.argv}


def python_initramfs(cli, out):
    """The Linux guest's initramfs for python3: what the CLI packs for
    `capsule run python3 -c 'print(1)'` (its own make_plan), plus /init and
    the device nodes a Linux userspace opens (/dev/console for init's stdio,
    /dev/null, /dev/urandom). Returns the program's argv."""
    bundle, cpio = cli.bundle, cli.cpio
    program, args, _ = PROGRAMS["python3"]
    try:
        plan = bundle.make_plan(program, args)
    except bundle.BadInput as e:
        raise BenchError(f"python3: the CLI refused it: {e}")
    tree = plan.tree
    if "/init" in tree.nodes:
        raise BenchError("python3: the image already has an /init")
    tree.add_host(str(INIT), "/init")
    entries = tree.entries()
    if "/dev" not in tree.nodes:
        entries.append(cpio.Entry("dev", stat.S_IFDIR | 0o755))
    for node, mode, rdev in (("console", 0o600, (5, 1)), ("null", 0o666, (1, 3)),
                             ("urandom", 0o666, (1, 9))):
        entries.append(cpio.Entry("dev/" + node, stat.S_IFCHR | mode, rdev=rdev))
    tmp = out.with_suffix(".tmp")
    with open(tmp, "wb", buffering=1 << 20) as f:
        cpio.write(f, entries)
    tmp.replace(out)
    return plan.argv


def prepare_linux(cli):
    """(vmlinux, kernel name, {program: (initramfs, init's arguments)}). The
    vmlinux is bench/boot's cached extraction (build/bench/boot/)."""
    vmlinux, _, vmlinuz = boot.prepare_linux()
    hello_rd = WORK / "initramfs-hello.cpio"
    if boot.stale(hello_rd, HELLO, Path(__file__)):
        boot.write_initramfs(HELLO, hello_rd)
    py_rd = WORK / "initramfs-python3.cpio"
    log(f"writing {py_rd.relative_to(ROOT)} (the python3 module's files + /init)")
    py_argv = python_initramfs(cli, py_rd)
    return vmlinux, vmlinuz.name, {"hello": (hello_rd, ["--poweroff"]),
                                   "python3": (py_rd, py_argv)}


def qemu_alone(cli, name, mem):
    """(the QEMU command `capsule run` runs for this program, built by the
    CLI's own code with an image packed here, its status file), to time the
    VM without the CLI around it; None if the CLI's internals do not fit."""
    program, args, _ = PROGRAMS[name]
    try:
        with CacheDir(fresh_dir(CACHES / f"qemu-{name}")):
            plan = cli.bundle.make_plan(program, args)
            image = cli.imagecache.image_for(plan.tree)
        a = argparse.Namespace(mem=mem, cpus=CPUS, cmdline="", net=None, ip=None, gw=None, ip6=None, gw6=None,
                               dns=None)
        mem, cpus, cmdline = cli.cli.vm_settings(a, plan, os.path.getsize(image))
        status = WORK / f"status-{name}"
        cmd = cli.qemu.command(cli.build.KERNEL, machine="microvm", mem=mem, cpus=cpus,
                               accel="tcg", cmdline=cmdline, initrd=image,
                               status_file=status)
    except Exception as e:  # the CLI's internals may change; this series is extra
        log(f"note: not timing {name}'s QEMU alone ({type(e).__name__}: {e})")
        return None
    return [str(w) for w in cmd], status


def capsule_command(name, mem):
    program, args, _ = PROGRAMS[name]
    cli = ROOT / "capsule"
    if not cli.exists():
        raise BenchError(f"{cli} not found (the capsule CLI)")
    return [str(cli), "run", "--accel", "tcg", "--machine", "microvm", "--mem", mem,
            "--cpus", str(CPUS), program] + list(args)


def linux_command(vmlinux, initramfs, mem, init_args):
    cmd = boot.linux_command(vmlinux, initramfs)
    # Same machine, accelerator and CPU as bench/boot; -m and -smp as Capsule's.
    cmd[cmd.index("-m") + 1] = mem
    cmd[cmd.index("-smp") + 1] = str(CPUS)
    # Linux passes the words after "--" to init as its arguments.
    cmd[cmd.index("-append") + 1] += " -- " + " ".join(init_args)
    return cmd


# ---------------------------------------------------------------- timing

def time_to_line(cmd, line, timeout, env=None):
    """Runs cmd (stdin closed, own process group) and reads its stdout as it
    comes, timestamping each chunk. Returns {wall_ms, first_ms (start to the
    chunk holding the first byte of a whole stdout line equal to `line`, a
    trailing \\r allowed; None if it never came), rc (None on a timeout),
    out, err}. On a timeout the process group is killed."""
    pat = re.compile(rb"(?m)^" + re.escape(line.encode()) + rb"\r?\n")
    chunks = []      # (offset in the stream, seconds since start)
    buf = bytearray()
    found = [None]
    errs = []
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=ROOT, env=env, start_new_session=True)

    def read_out():
        fd = p.stdout.fileno()
        while True:
            data = os.read(fd, 65536)
            now = time.perf_counter() - t0
            if not data:
                return
            chunks.append((len(buf), now))
            buf.extend(data)
            if found[0] is None:
                # Look again from a little before this chunk (a line may
                # straddle chunks).
                start = max(0, chunks[-1][0] - len(line) - 2)
                m = pat.search(buf, start)
                if m:
                    pos = m.start()
                    found[0] = max(t for off, t in chunks if off <= pos)

    th_out = threading.Thread(target=read_out, daemon=True)
    th_err = threading.Thread(target=lambda: errs.extend(iter(p.stderr.readline, b"")),
                              daemon=True)
    th_out.start()
    th_err.start()
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
    th_out.join(10)
    th_err.join(10)
    return {"wall_ms": wall * 1000, "first_ms": found[0] * 1000 if found[0] is not None else None,
            "rc": rc, "out": bytes(buf).decode(errors="replace"),
            "err": b"".join(errs).decode(errors="replace")}


def checked(label, cmd, line, timeout, env=None, status=None):
    """time_to_line, and a BenchError unless the line came and the run ended
    well: exit status 0, or for Capsule's QEMU alone (status: its status
    file) the guest's exit status 0 through the CLI's own decoding."""
    r = time_to_line(cmd, line, timeout, env)
    problem = None
    if r["rc"] is None:
        problem = f"timed out after {timeout:.0f} s"
    elif r["first_ms"] is None:
        problem = f"exited {r['rc']} without printing the line {line!r}"
    elif status is not None:
        guest, why = status(r["rc"])
        if why or guest != 0:
            problem = why or f"the program's exit status {guest}, not 0"
    elif r["rc"] != 0:
        problem = f"exit status {r['rc']}, not 0"
    if problem:
        raise BenchError(f"{label}: {problem}\n$ {' '.join(cmd)}\nstdout:\n"
                         f"{r['out'][-2000:]}\nstderr:\n{r['err'][-2000:]}")
    return r


def image_of(cache):
    """The one image in a CAPSULE_CACHE directory, with its inode (a hit only
    touches it, a repack replaces it)."""
    imgs = list((cache / "images").glob("*.cpio"))
    if len(imgs) != 1:
        raise BenchError(f"{cache}: expected one image after the run, found {len(imgs)}")
    return imgs[0], imgs[0].stat().st_ino


def capsule_pair(name, cmd, line, cache):
    """A cold run (fresh, empty cache) and a cached run (the same cache)."""
    env = dict(os.environ, CAPSULE_CACHE=str(fresh_dir(cache)))
    cold = checked(f"capsule {name} (cold)", cmd, line, CAPSULE_TIMEOUT, env)
    img, ino = image_of(cache)
    cached = checked(f"capsule {name} (cached)", cmd, line, CAPSULE_TIMEOUT, env)
    if image_of(cache) != (img, ino):
        raise BenchError(f"capsule {name}: the second run packed its image again "
                         "(expected an image cache hit)")
    shutil.rmtree(cache, ignore_errors=True)
    return cold, cached


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench/run",
                                 description="Time to first output of a static hello and of "
                                             "python3 -c 'print(1)' through `capsule run` (cold "
                                             "and cached image) against a Linux guest on the "
                                             "same QEMU; the CLI's image build time.")
    ap.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    ap.add_argument("--json", default=str(WORK / "result.json"),
                    help="where to write the results (default build/bench/run/"
                         "result.json; '' for none)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    try:
        return run(args)
    except BenchError as e:
        print(f"bench/run: error: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        shutil.rmtree(CACHES, ignore_errors=True)


def run(args):
    cli = cli_modules()
    if not shutil.which("qemu-system-x86_64"):
        raise BenchError("qemu-system-x86_64 not found (Debian package qemu-system-x86)")
    boot.ensure_packages()  # linux-image-cloud-amd64, lz4, gcc
    build_programs()
    vmlinux, kernel_name, linux_rd = prepare_linux(cli)
    host = boot.host_description()
    host["cli_python3"] = boot.cli_python()  # a pyenv shim there costs ~100 ms per run

    # The memory `capsule run` gives each program by itself (128 MiB + 2x the
    # image, docs/cli.md), passed explicitly to both guests so they match.
    first = {n: image_build(cli, n, CACHES / f"inproc-{n}") for n in PROGRAMS}
    mem = {n: f"{first[n]['mem_mib']}M" for n in PROGRAMS}
    cmds = {}
    for n, (_, _, line) in PROGRAMS.items():
        rd, init_args = linux_rd[n]
        cmds[n] = {"capsule": capsule_command(n, mem[n]),
                   "linux": linux_command(vmlinux, rd, mem[n], init_args),
                   "line": line}
    log(f"host: {host['cpu']}, {host['cpus']} CPUs, TSC {host['tsc_khz']} kHz; {host['qemu']}; "
        f"python3 on PATH: {host['cli_python3']}")
    for n, c in cmds.items():
        log(f"{n} capsule: {' '.join(c['capsule'])}")
        log(f"{n} linux:   {' '.join(c['linux'])}")

    # Untimed first runs: both guests work, the CLI's build step has built
    # capsule.elf (which the QEMU-alone command needs), the page cache is warm.
    log("untimed first runs (the first builds the kernel if needed)")
    for n, c in cmds.items():
        env = dict(os.environ, CAPSULE_CACHE=str(fresh_dir(CACHES / "warm")))
        checked(f"capsule {n}", c["capsule"], c["line"], CAPSULE_TIMEOUT + 600, env)
        checked(f"linux {n}", c["linux"], c["line"], LINUX_TIMEOUT)
        alone = qemu_alone(cli, n, mem[n])
        if alone:
            c["qemu"], status = alone
            c["status"] = lambda rc, f=status: cli.qemu.decode_status(rc, str(f))
            log(f"{n} capsule's QEMU alone: {' '.join(c['qemu'])}")
            checked(f"capsule {n}'s QEMU alone", c["qemu"], c["line"], CAPSULE_TIMEOUT,
                    status=c["status"])
    series = [s for s in SERIES if s != "capsule_qemu" or all("qemu" in c for c in cmds.values())]

    samples = {n: {s: {"first_ms": [], "exit_ms": []} for s in series} for n in PROGRAMS}
    builds = {n: [] for n in PROGRAMS}
    log(f"measuring {args.runs} rounds, interleaved")
    for i in range(args.runs):
        for n, c in cmds.items():
            builds[n].append(image_build(cli, n, CACHES / f"inproc-{n}"))
            r = {}
            r["capsule_cold"], r["capsule_cached"] = capsule_pair(
                n, c["capsule"], c["line"], CACHES / f"{n}-{i}")
            if "capsule_qemu" in series:
                r["capsule_qemu"] = checked(f"capsule {n}'s QEMU alone", c["qemu"], c["line"],
                                            CAPSULE_TIMEOUT, status=c["status"])
            r["linux"] = checked(f"linux {n}", c["linux"], c["line"], LINUX_TIMEOUT)
            for s in series:
                samples[n][s]["first_ms"].append(r[s]["first_ms"])
                samples[n][s]["exit_ms"].append(r[s]["wall_ms"])
            b = builds[n][-1]
            log(f"  round {i + 1:2} {n:7}: first line / exit (ms): " + ", ".join(
                f"{s} {r[s]['first_ms']:.0f}/{r[s]['wall_ms']:.0f}" for s in series)
                + f"; image build {b['plan_ms']:.0f}+{b['pack_ms']:.0f} ms")

    programs = {}
    for n in PROGRAMS:
        summ = {s: {k: summary(v) for k, v in samples[n][s].items()} for s in series}
        ratios = {}
        for k in ("first_ms", "exit_ms"):
            lin = summ["linux"][k]["median"]
            for s in series[:-1]:
                ratios[f"{k}_linux_over_{s}"] = lin / summ[s][k]["median"]
        bs = builds[n]
        programs[n] = {
            "capsule_cmd": cmds[n]["capsule"], "capsule_qemu_cmd": cmds[n].get("qemu"),
            "linux_cmd": cmds[n]["linux"], "line": cmds[n]["line"], "mem": mem[n],
            "series": summ, "ratios": ratios,
            "image_build_ms": {k: summary([b[k] for b in bs])
                               for k in ("plan_ms", "pack_ms", "hit_ms")},
            "image_bytes": bs[-1]["image_bytes"], "image_entries": bs[-1]["entries"],
            "linux_initramfs_bytes": linux_rd[n][0].stat().st_size,
            "samples": samples[n],
            "image_build_samples": [{k: b[k] for k in ("plan_ms", "pack_ms", "hit_ms")}
                                    for b in bs],
        }
    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": host, "runs": args.runs, "cpus": CPUS, "linux_kernel": kernel_name,
        "programs": programs,
    }
    report(res)
    if args.json:
        boot.write_json(res, args.json)
    return 0


NAMES = {"capsule_cold": "capsule run, cold cache", "capsule_cached": "capsule run, cached image",
         "capsule_qemu": "capsule's QEMU alone (no CLI)", "linux": "linux guest"}


def report(res):
    log(f"\nbench/run, {res['runs']} runs each, microvm TCG, -smp {res['cpus']} "
        f"({res['host']['qemu']}; linux: Debian {res['linux_kernel']})")
    for n, p in res["programs"].items():
        log(f"\n{n} (-m {p['mem']}), expected line {p['line']!r}; ms, median (min-max)")
        log(f"  {'series':<32} {'first output':>22} {'exit':>22} {'linux/this':>16}")
        for s, v in p["series"].items():
            cells = [f"{v[k]['median']:.1f} ({v[k]['min']:.0f}-{v[k]['max']:.0f})"
                     for k in ("first_ms", "exit_ms")]
            ratio = "" if s == "linux" else (
                f"{p['ratios'][f'first_ms_linux_over_{s}']:.2f}x/"
                f"{p['ratios'][f'exit_ms_linux_over_{s}']:.2f}x")
            log(f"  {NAMES[s]:<32} {cells[0]:>22} {cells[1]:>22} {ratio:>16}")
        b = p["image_build_ms"]
        log(f"  image build (in-process, empty cache): plan {b['plan_ms']['median']:.1f} ms, "
            f"hash+pack {b['pack_ms']['median']:.1f} ms, cache hit {b['hit_ms']['median']:.1f} ms"
            f" (medians)")
        log(f"  image {p['image_bytes']} bytes, {p['image_entries']} entries; linux initramfs "
            f"{p['linux_initramfs_bytes']} bytes")


if __name__ == "__main__":
    sys.exit(main())
