#!/usr/bin/env python3
"""bench/boot: boot time of Capsule against a minimal Linux guest on the same QEMU.

Measures, interleaved (A B A B ... so both see the same machine load):
  A  the wall time of `./capsule run`, from the process start to its exit
     (the kernel is built before timing starts);
  B  the wall time of a QEMU process booting Debian's linux-image-cloud-amd64
     kernel (its ELF vmlinux, PVH) with an initramfs whose static /init prints
     one line and powers off at once.
Both run on the same machine type (microvm), the same accelerator (TCG,
`-cpu max`) and the same memory size. It also reports the kernel's own
`booted in X.XXX ms` figure (median over the A runs), a per-phase bootchart
from one extra run, and the kernel image size.

Usage: python3 bench/boot/run.py [--runs N] [--json FILE]
       (or `./capsule bench boot`, which calls main(argv)).
Python 3 standard library only. What it needs on the host comes from Debian
packages through apt-get (installed only when missing).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
KERNEL = BUILD / "capsule.elf"
WORK = BUILD / "bench" / "boot"
INIT_SRC = Path(__file__).resolve().parent / "linux_init.c"

# Debian package -> a program it provides that we call (None: no program).
PACKAGES = {"linux-image-cloud-amd64": None, "lz4": "lz4", "gcc": "gcc"}

# The machine both guests boot on: the one `./capsule run` uses
# (tools/capsule/capsule_cli/qemu.py, MACHINE_ARGS["microvm"]).
MACHINE = "microvm,x-option-roms=off,pit=off,pic=off"
MEM = "128M"
LINUX_MARK = "capsule-bench: linux init reached userspace"
BOOTED_RE = re.compile(r"booted in (\d+(?:\.\d+)?) ms")

CAPSULE_TIMEOUT = 60.0   # seconds, per `./capsule run`
LINUX_TIMEOUT = 120.0    # seconds, per Linux boot (about 2 s expected)


class BenchError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- host setup

def dpkg_installed(pkg):
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                           capture_output=True, text=True)
    except FileNotFoundError:
        raise BenchError("dpkg-query not found: this benchmark expects a Debian host")
    return r.returncode == 0 and r.stdout.strip() == "install ok installed"


def ensure_packages():
    missing = [p for p in PACKAGES if not dpkg_installed(p)]
    if not missing:
        return
    prefix = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise BenchError("missing Debian packages %s; install them as root: "
                             "apt-get install %s" % (missing, " ".join(missing)))
        prefix = ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = prefix + ["apt-get", "install", "-y", "--no-install-recommends"] + missing
    log("installing Debian packages: " + " ".join(missing))
    log("  $ " + " ".join(cmd))
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        log("  apt-get install failed; running apt-get update and trying again")
        subprocess.run(prefix + ["apt-get", "update"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    still = [p for p in missing if not dpkg_installed(p)]
    if r.returncode != 0 or still:
        raise BenchError("apt-get install %s failed:\n%s" % (" ".join(missing),
                                                             r.stderr.strip()[-2000:]))


def host_tsc_khz():
    """The host's TSC rate in kHz, as the CLI reads it (a TCG guest's TSC
    follows the host's)."""
    sys.path.insert(0, str(ROOT / "tools" / "capsule"))
    try:
        from capsule_cli import qemu  # noqa: E402
        return qemu.host_tsc_khz()
    finally:
        sys.path.pop(0)


def host_description():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        qemu = "?"
    return {"cpu": model, "cpus": os.cpu_count(), "tsc_khz": host_tsc_khz(),
            "kernel": platform.release(), "qemu": qemu}


# ---------------------------------------------------------------- ELF

def elf_load_sizes(path):
    """(file bytes, sum of PT_LOAD p_memsz, sum of PT_LOAD p_filesz, has a PVH
    note) of an ELF64 little-endian file."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise BenchError(f"{path} is not an ELF64 little-endian file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    memsz = filesz = 0
    pvh = False
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 56 > len(data):
            raise BenchError(f"{path}: program header {i} lies past the end of the file")
        p_type, _flags, p_offset, _va, _pa, p_filesz, p_memsz, _align = \
            struct.unpack_from("<IIQQQQQQ", data, off)
        if p_type == 1:  # PT_LOAD
            if p_offset + p_filesz > len(data):
                raise BenchError(f"{path}: PT_LOAD segment {i} is truncated")
            memsz += p_memsz
            filesz += p_filesz
        elif p_type == 4:  # PT_NOTE: look for XEN_ELFNOTE_PHYS32_ENTRY (18)
            pos, end = p_offset, p_offset + p_filesz
            while pos + 12 <= end:
                namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
                name = data[pos + 12:pos + 12 + namesz].rstrip(b"\0")
                if name == b"Xen" and ntype == 18:
                    pvh = True
                pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return len(data), memsz, filesz, pvh


# ---------------------------------------------------------------- Linux guest

def find_vmlinuz():
    cands = sorted(Path("/boot").glob("vmlinuz-*-cloud-amd64"))
    if not cands:
        raise BenchError("no /boot/vmlinuz-*-cloud-amd64 (is linux-image-cloud-amd64 "
                         "installed?)")

    def version_key(p):
        return [int(x) if x.isdigit() else x
                for x in re.split(r"(\d+)", p.name)]
    return sorted(cands, key=version_key)[-1]


def extract_vmlinux(vmlinuz, out):
    """The ELF vmlinux a bzImage carries LZ4-compressed (docs: PLATFORM.md)."""
    try:
        data = vmlinuz.read_bytes()
    except OSError as e:
        raise BenchError(f"cannot read {vmlinuz}: {e} (it is root-only on Debian)")
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        raise BenchError(f"{vmlinuz}: no x86 boot header ('HdrS' at 0x202)")
    setup_sects = data[0x1f1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", data, 0x248)
    start = (setup_sects + 1) * 512 + payload_offset
    payload = data[start:start + payload_length]
    if len(payload) != payload_length or payload_length == 0:
        raise BenchError(f"{vmlinuz}: payload {start:#x}+{payload_length:#x} lies "
                         f"outside the file ({len(data)} bytes)")
    if payload[:4] != b"\x02\x21\x4c\x18":
        raise BenchError(f"{vmlinuz}: payload is not LZ4 (magic {payload[:4].hex()}, "
                         "expected 02214c18); this kernel is compressed otherwise")
    r = subprocess.run(["lz4", "-dc"], input=payload, capture_output=True)
    elf = r.stdout
    # lz4 warns about the 4 size bytes the kernel appends after the frame; the
    # ELF is complete anyway, so judge by the output, not by the exit status.
    if elf[:4] != b"\x7fELF":
        raise BenchError(f"lz4 -dc of {vmlinuz}'s payload gave no ELF (exit "
                         f"{r.returncode}): {r.stderr.decode(errors='replace').strip()}")
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(elf)
    _, memsz, _, pvh = elf_load_sizes(tmp)  # raises on a truncated ELF
    if not pvh:
        tmp.unlink()
        raise BenchError(f"{vmlinuz}'s vmlinux has no PVH entry note (CONFIG_PVH=n?)")
    tmp.replace(out)


def newc_entry(ino, name, mode, data=b"", nlink=1, rdev=(0, 0)):
    name_b = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
              len(name_b), 0]
    hdr = b"070701" + b"".join(b"%08x" % f for f in fields)
    out = hdr + name_b
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def write_initramfs(init_binary, out):
    """A newc cpio: /dev, /dev/console (5,1) so the kernel can give init a
    console, and /init."""
    blob = newc_entry(1, "dev", 0o040755, nlink=2)
    blob += newc_entry(2, "dev/console", 0o020600, rdev=(5, 1))
    blob += newc_entry(3, "init", 0o100755, Path(init_binary).read_bytes())
    blob += newc_entry(0, "TRAILER!!!", 0)
    blob += b"\0" * (-len(blob) % 512)
    out.write_bytes(blob)


def stale(target, *sources):
    return not target.exists() or any(target.stat().st_mtime < Path(s).stat().st_mtime
                                      for s in sources)


def prepare_linux():
    """Returns (vmlinux, initramfs, vmlinuz), cached under build/bench/boot/."""
    WORK.mkdir(parents=True, exist_ok=True)
    vmlinuz = find_vmlinuz()
    vmlinux = WORK / ("vmlinux-" + vmlinuz.name[len("vmlinuz-"):])
    if stale(vmlinux, vmlinuz):
        log(f"extracting the ELF vmlinux from {vmlinuz} -> {vmlinux.relative_to(ROOT)}")
        extract_vmlinux(vmlinuz, vmlinux)
    init = WORK / "linux_init"
    if stale(init, INIT_SRC):
        log(f"building {init.relative_to(ROOT)} (gcc -static -Os)")
        r = subprocess.run(["gcc", "-static", "-Os", "-s", "-o", str(init), str(INIT_SRC)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError("building the Linux guest's init failed (is libc6-dev "
                             "installed?):\n" + r.stderr.strip())
    initramfs = WORK / "initramfs.cpio"
    if stale(initramfs, init, Path(__file__)):
        write_initramfs(init, initramfs)
    return vmlinux, initramfs, vmlinuz


def linux_command(vmlinux, initramfs):
    khz = host_tsc_khz()
    append = "console=ttyS0 quiet panic=-1 reboot=t pci=off"
    if khz:
        append += f" tsc_early_khz={khz}"
    return ["qemu-system-x86_64", "-M", MACHINE, "-accel", "tcg", "-cpu", "max",
            "-m", MEM, "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio", "-no-reboot",
            "-kernel", str(vmlinux), "-initrd", str(initramfs), "-append", append]


# ---------------------------------------------------------------- Capsule

def capsule_qemu_command():
    """The QEMU command `./capsule run` itself runs (from the CLI's own command
    builder), to time the kernel's boot without the CLI around it; None if
    the builder cannot be imported."""
    sys.path.insert(0, str(ROOT / "tools" / "capsule"))
    try:
        from capsule_cli import qemu  # noqa: E402
        return [str(w) for w in qemu.command(KERNEL)]
    except Exception as e:  # the CLI's internals may change; this series is extra
        log(f"note: not timing QEMU alone ({type(e).__name__}: {e})")
        return None
    finally:
        sys.path.pop(0)


def cli_python():
    """What `python3` the ./capsule shim finds first on PATH (a pyenv shim
    there costs ~100 ms per run)."""
    return shutil.which("python3") or "?"


def capsule_command(cmdline=None):
    cli = ROOT / "capsule"
    if not cli.exists():
        raise BenchError(f"{cli} not found (the capsule CLI)")
    cmd = [str(cli), "run"]
    if cmdline:
        cmd.append("--cmdline=" + cmdline)
    return cmd


# ---------------------------------------------------------------- timing

def timed_run(cmd, timeout, mark):
    """Runs cmd with stdin closed; returns (wall s, exit status, output, seconds
    from start until `mark` first appeared in the output or None). Kills the
    process (group) and raises on a timeout."""
    first = [None]
    chunks = []
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)

    def reader():
        seen = b""
        for line in iter(p.stdout.readline, b""):
            chunks.append(line)
            if first[0] is None:
                seen += line
                if mark.encode() in seen:
                    first[0] = time.perf_counter() - t0
                seen = seen[-len(mark) * 2:]
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
        th.join(5)
        out = b"".join(chunks).decode(errors="replace")
        raise BenchError(f"timed out after {timeout:.0f} s: {' '.join(cmd)}\n"
                         f"output so far:\n{out[-3000:]}")
    wall = time.perf_counter() - t0
    th.join(10)
    return wall, rc, b"".join(chunks).decode(errors="replace"), first[0]


def check_capsule(rc, out, cmd):
    m = BOOTED_RE.search(out)
    if not m:
        raise BenchError(f"`{' '.join(cmd)}` printed no 'booted in X ms' line (exit "
                         f"{rc}):\n{out[-3000:]}")
    return float(m.group(1))


def check_linux(rc, out, cmd):
    if LINUX_MARK not in out:
        raise BenchError(f"the Linux guest never reached its init (exit {rc}):\n"
                         f"$ {' '.join(cmd)}\n{out[-3000:]}")


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs),
            "n": len(xs)}


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench/boot",
                                 description="Boot time: `./capsule run` against a "
                                             "minimal Linux guest on the same QEMU.")
    ap.add_argument("--runs", type=int, default=10, help="runs of each (default 10)")
    ap.add_argument("--json", default=str(WORK / "result.json"),
                    help="where to write the results (default build/bench/boot/"
                         "result.json; '' for none)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    try:
        return run(args)
    except BenchError as e:
        print(f"bench/boot: error: {e}", file=sys.stderr, flush=True)
        return 1


def run(args):
    if not shutil.which("qemu-system-x86_64"):
        raise BenchError("qemu-system-x86_64 not found (Debian package qemu-system-x86)")
    ensure_packages()
    vmlinux, initramfs, vmlinuz = prepare_linux()
    cap_cmd = capsule_command()
    lin_cmd = linux_command(vmlinux, initramfs)
    host = host_description()
    host["cli_python3"] = cli_python()

    log(f"host: {host['cpu']}, {host['cpus']} CPUs, TSC {host['tsc_khz']} kHz; "
        f"{host['qemu']}")
    log(f"A: {' '.join(cap_cmd)}   (python3 on PATH: {host['cli_python3']})")
    log(f"B: {' '.join(lin_cmd)}")

    # One untimed boot of each first: checks both work, warms the page cache,
    # and (through the CLI's own build step) builds capsule.elf, so the timed
    # runs below only find it up to date.
    log("untimed first runs (this one builds the kernel if needed)")
    _, rc, out, _ = timed_run(cap_cmd, CAPSULE_TIMEOUT + 600, "booted in")
    check_capsule(rc, out, cap_cmd)
    if not KERNEL.exists():
        raise BenchError(f"{KERNEL} missing after `./capsule run`")
    raw_cmd = capsule_qemu_command()
    if raw_cmd:
        log(f"C: {' '.join(raw_cmd)}   (A's QEMU alone, without the CLI)")
        _, rc, out, _ = timed_run(raw_cmd, CAPSULE_TIMEOUT, "booted in")
        check_capsule(rc, out, raw_cmd)
    if rc != 0:
        log(f"note: `./capsule run` exited {rc}, not 0 (timings are kept)")
    _, rc, out, _ = timed_run(lin_cmd, LINUX_TIMEOUT, LINUX_MARK)
    check_linux(rc, out, lin_cmd)
    if rc != 0:
        log(f"note: the Linux guest's QEMU exited {rc}, not 0 (timings are kept)")

    cap_wall, cap_booted, lin_wall, lin_init, raw_wall = [], [], [], [], []
    log(f"measuring {args.runs} runs of each, interleaved")
    for i in range(args.runs):
        wall, rc, out, _ = timed_run(cap_cmd, CAPSULE_TIMEOUT, "booted in")
        cap_booted.append(check_capsule(rc, out, cap_cmd))
        cap_wall.append(wall * 1000)
        if raw_cmd:
            wall, rc, out, _ = timed_run(raw_cmd, CAPSULE_TIMEOUT, "booted in")
            check_capsule(rc, out, raw_cmd)
            raw_wall.append(wall * 1000)
        wall, rc, out, at = timed_run(lin_cmd, LINUX_TIMEOUT, LINUX_MARK)
        check_linux(rc, out, lin_cmd)
        lin_wall.append(wall * 1000)
        lin_init.append(at * 1000)
        raw = f"   qemu alone {raw_wall[-1]:6.1f} ms" if raw_cmd else ""
        log(f"  run {i + 1:2}: capsule {cap_wall[-1]:7.1f} ms (booted in "
            f"{cap_booted[-1]:.3f} ms){raw}   linux {lin_wall[-1]:7.1f} ms (init's "
            f"line at {lin_init[-1]:.1f} ms)")

    chart_cmd = capsule_command("--bootchart")
    _, rc, out, _ = timed_run(chart_cmd, CAPSULE_TIMEOUT, "booted in")
    check_capsule(rc, out, chart_cmd)
    chart = [ln.rstrip("\r") for ln in out.splitlines() if ln.startswith("bootchart:")]

    k_bytes, k_memsz, k_filesz, _ = elf_load_sizes(KERNEL)
    l_bytes, l_memsz, l_filesz, _ = elf_load_sizes(vmlinux)
    sizes = {
        "capsule_elf_bytes": k_bytes, "capsule_load_memsz": k_memsz,
        "capsule_load_filesz": k_filesz,
        "linux_vmlinuz_bytes": vmlinuz.stat().st_size, "linux_vmlinux_bytes": l_bytes,
        "linux_load_memsz": l_memsz, "linux_initramfs_bytes": initramfs.stat().st_size,
    }
    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": host, "runs": args.runs,
        "capsule_cmd": cap_cmd, "capsule_qemu_cmd": raw_cmd, "linux_cmd": lin_cmd, "linux_kernel": vmlinuz.name,
        "capsule_wall_ms": summary(cap_wall), "capsule_booted_in_ms": summary(cap_booted),
        "capsule_qemu_wall_ms": summary(raw_wall) if raw_wall else None,
        "linux_wall_ms": summary(lin_wall), "linux_init_line_ms": summary(lin_init),
        "ratio_linux_over_capsule": statistics.median(lin_wall) /
                                    statistics.median(cap_wall),
        "ratio_linux_over_capsule_qemu": (statistics.median(lin_wall) /
                                          statistics.median(raw_wall)) if raw_wall else None,
        "samples": {"capsule_wall_ms": cap_wall, "capsule_booted_in_ms": cap_booted,
                    "capsule_qemu_wall_ms": raw_wall,
                    "linux_wall_ms": lin_wall, "linux_init_line_ms": lin_init},
        "bootchart": chart, "sizes": sizes,
    }
    report(res)
    if args.json:
        write_json(res, args.json)
    return 0


def write_json(res, where):
    """The machine-readable result, next to the printed report."""
    path = Path(where)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2) + "\n")
    log(f"\nwrote {path}")


def report(res):
    def row(label, s, fmt="{:.1f}"):
        log(f"  {label:<48} {fmt.format(s['median']):>10} {fmt.format(s['min']):>10} "
            f"{fmt.format(s['max']):>10}")
    log(f"\nbench/boot, {res['runs']} runs each, microvm TCG, -m {MEM} "
        f"({res['host']['qemu']})")
    log(f"  {'ms':<48} {'median':>10} {'min':>10} {'max':>10}")
    row("capsule: `./capsule run` wall time", res["capsule_wall_ms"])
    row("capsule: kernel's own 'booted in'", res["capsule_booted_in_ms"], "{:.3f}")
    if res["capsule_qemu_wall_ms"]:
        row("capsule: its QEMU alone (no CLI) wall time", res["capsule_qemu_wall_ms"])
    row("linux: QEMU wall time", res["linux_wall_ms"])
    row("linux: QEMU start -> init's line", res["linux_init_line_ms"])
    log(f"  (linux kernel: Debian {res['linux_kernel']}, ELF vmlinux via PVH)")
    log(f"  ratio linux / capsule, median wall time:               "
        f"{res['ratio_linux_over_capsule']:.1f}x")
    if res["ratio_linux_over_capsule_qemu"]:
        log(f"  ratio linux / capsule's QEMU alone, median wall time:  "
            f"{res['ratio_linux_over_capsule_qemu']:.1f}x")
    log("\nbootchart (one extra `./capsule run --cmdline=--bootchart`):")
    for ln in res["bootchart"] or ["  (no bootchart lines printed)"]:
        log("  " + ln)
    s = res["sizes"]
    log("\nimage sizes (bytes):")
    log(f"  capsule.elf file {s['capsule_elf_bytes']}, PT_LOAD memsz "
        f"{s['capsule_load_memsz']} (filesz {s['capsule_load_filesz']})")
    log(f"  linux vmlinuz {s['linux_vmlinuz_bytes']}, vmlinux {s['linux_vmlinux_bytes']}, "
        f"PT_LOAD memsz {s['linux_load_memsz']}, initramfs {s['linux_initramfs_bytes']}")


if __name__ == "__main__":
    sys.exit(main())
