"""bench/disk, program start: a large program (Debian's OpenJDK, `java
-version`) started from a disk root and from an initrd, in Capsule and in
the Linux guest on the same QEMU (issue 14's "time to first output of a
large program from disk against from initrd").

The program's file tree is the one the CLI packs for `capsule run java
-version` (capsule_cli.bundle.make_plan: the JVM, its libraries and what it
dlopens, ~240 MB). Four set-ups, each booted with -m MEM, one CPU, microvm,
TCG:

  capsule disk    ./capsule run --root disk java -version (the CLI's cached
                  ext4 image of the tree, read-only, a RAM layer on top)
  capsule initrd  ./capsule run --root initrd java -version (the cpio)
  linux disk      the same tree as an ext4 image (capsule_cli.rootdisk.pack,
                  what --root disk attaches), virtio-blk with snapshot=on;
                  a small initramfs whose /init (start_init.c) loads
                  virtio_blk, mounts /dev/vda and changes root to it
  linux initrd    the tree in the initramfs with that /init

Timed on the host from the command's start: `first_output_s`, when the
line `java -version` prints first on the host appears, and `exit_s`, when
the command ends. Capsule's figures include its CLI (a cached run: a stat
of the tree, no packing). One untimed run of each (it packs the images),
then N rounds of the four, interleaved.
"""
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parents[1]
sys.path.insert(0, str(ROOT / "tools" / "capsule"))
sys.path.insert(0, str(BENCH.parent))
import side_by_side  # noqa: E402
from capsule_cli import bundle, cpio, rootdisk  # noqa: E402

PROGRAM = ("java", "-version")
MEM = "1G"
SETUPS = ("capsule disk", "linux disk", "capsule initrd", "linux initrd")
TIMEOUT = 300.0


class StartError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def host_first_line():
    """What the program prints first on the host: every run must print it."""
    java = shutil.which(PROGRAM[0])
    if not java:
        return None
    r = subprocess.run(list(PROGRAM), capture_output=True, text=True)
    lines = (r.stdout + r.stderr).splitlines()
    if r.returncode != 0 or not lines:
        raise StartError(f"`{' '.join(PROGRAM)}` fails on the host (status {r.returncode})")
    return lines[0].strip()


def timed_run(cmd, first_line, timeout=TIMEOUT):
    """Runs cmd; returns {first_output_s, exit_s} (seconds from the start),
    or raises StartError with the output when the line never came or the
    run failed."""
    seen = {}

    def on_line(raw, t):
        if "first" not in seen and raw.decode(errors="replace").strip() == first_line:
            seen["first"] = t

    rc, out, wall = side_by_side.run_guest(cmd, timeout, on_line)
    lines = out.splitlines()
    tail = "\n".join(lines[-40:])
    if rc is None:
        raise StartError(f"timed out after {timeout:.0f} s\n$ {' '.join(cmd)}\n{tail}")
    if "first" not in seen:
        raise StartError(f"no line {first_line!r} (exit {rc})\n$ {' '.join(cmd)}\n{tail}")
    if any(ln.startswith(("start_init: FAIL", "linux_init: FAIL")) for ln in lines):
        raise StartError(f"the Linux guest's /init failed\n$ {' '.join(cmd)}\n{tail}")
    return {"first_output_s": seen["first"], "exit_s": wall}


def prepare(work, boot, vmlinux, modules, disk_qemu_args):
    """The four commands. modules: [(guest path, host .ko)] for the disk."""
    work.mkdir(parents=True, exist_ok=True)
    init = work / "start_init"
    src = BENCH / "start_init.c"
    if not init.exists() or any(init.stat().st_mtime < p.stat().st_mtime
                                for p in (src, BENCH.parent / "linux_init.h")):
        log(f"building {init.relative_to(ROOT)} (gcc -static -O2)")
        r = subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", str(init), str(src)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise StartError("building start_init failed:\n" + r.stderr.strip())
    try:
        plan = bundle.make_plan(PROGRAM[0], list(PROGRAM[1:]))
    except bundle.BadInput as e:
        raise StartError(f"packing `{' '.join(PROGRAM)}`: {e}")
    exec_words = [f"{k}={v}" for k, v in plan.env.items()] + plan.argv
    exec_file = work / "exec"
    exec_file.write_bytes(b"".join(w.encode() + b"\0" for w in exec_words))

    img = work / "root.ext4"
    log(f"packing the tree as {img.relative_to(ROOT)} (mke2fs -d, as --root disk does)")
    rootdisk.pack(plan.tree, str(img))
    small = work / "initramfs-disk.cpio"
    side_by_side.write_initramfs_with(boot, init, [*modules, ("/exec", str(exec_file))], small)

    big = work / "initramfs-full.cpio"
    log(f"packing the tree as {big.relative_to(ROOT)} (the Linux guest's initrd)")
    tree = plan.tree
    tree.add_host(str(init), "/init")
    tree.add_host(str(exec_file), "/exec")
    tree.add_dir("/dev")
    entries = tree.entries()
    entries.append(cpio.Entry("dev/console", 0o020600, rdev=(5, 1)))
    cpio.write_file(str(big), entries)

    def linux(initramfs, words, extra=()):
        cmd = boot.linux_command(vmlinux, initramfs)
        cmd[cmd.index("-m") + 1] = MEM
        i = cmd.index("-append") + 1
        cmd[i] += " tsc=reliable -- " + " ".join(["--poweroff", *words])
        return cmd + list(extra)

    def capsule(root):
        return [str(ROOT / "capsule"), "run", "--accel", "tcg", "--machine", "microvm", "--mem", MEM,
                "--cpus", "1", "--root", root, *PROGRAM]

    names = [Path(g).stem for g, _ in modules]
    return {
        "capsule disk": capsule("disk"),
        "capsule initrd": capsule("initrd"),
        "linux disk": linux(small, ["--linux", *names, "--disk"], disk_qemu_args(img, snapshot=True)),
        "linux initrd": linux(big, []),
    }, sum(n.size for n in plan.tree.nodes.values() if n.kind == "file" and n.size)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] + xs[(n - 1) // 2]) / 2 if n else None


def run(work, runs, boot, vmlinux, modules, disk_qemu_args):
    """Returns the result dict (None when the host has no java)."""
    first = host_first_line()
    if first is None:
        log(f"program start: skipped (no `{PROGRAM[0]}` on the host: Debian's default-jre-headless)")
        return None
    cmds, tree_bytes = prepare(work, boot, vmlinux, modules, disk_qemu_args)
    log(f"program start: `{' '.join(PROGRAM)}` ({tree_bytes / 1e6:.0f} MB of files), -m {MEM}, "
        f"first line {first!r}")
    for name in SETUPS:
        log(f"  {name}: {' '.join(cmds[name])}")
    log("untimed first runs (the CLI packs its images)")
    for name in SETUPS:
        timed_run(cmds[name], first, timeout=TIMEOUT + 600)
    samples = {name: [] for name in SETUPS}
    log(f"measuring {runs} rounds of the four, interleaved")
    for i in range(runs):
        for name in SETUPS:
            samples[name].append(timed_run(cmds[name], first))
        log(f"  round {i + 1}: " + "  ".join(
            f"{n} {samples[n][-1]['first_output_s']:.2f}/{samples[n][-1]['exit_s']:.2f} s" for n in SETUPS))
    med = {n: {k: median([s[k] for s in samples[n]]) for k in ("first_output_s", "exit_s")} for n in SETUPS}
    res = {"program": " ".join(PROGRAM), "mem": MEM, "tree_bytes": tree_bytes, "runs": runs,
           "commands": cmds, "samples": samples, "medians": med}
    log("\nprogram start (seconds from the command to java's first line, and to the exit; medians):")
    log(f"  {'':16} {'first output':>12} {'exit':>8}")
    for n in SETUPS:
        log(f"  {n:16} {med[n]['first_output_s']:>12.2f} {med[n]['exit_s']:>8.2f}")
    ratios = {}
    for k in ("first_output_s", "exit_s"):
        ratios[k] = {
            "capsule disk/initrd": med["capsule disk"][k] / med["capsule initrd"][k],
            "linux disk/initrd": med["linux disk"][k] / med["linux initrd"][k],
            "disk capsule/linux": med["capsule disk"][k] / med["linux disk"][k],
            "initrd capsule/linux": med["capsule initrd"][k] / med["linux initrd"][k],
        }
    res["ratios"] = ratios
    log("  ratios (first output; exit): " + "  ".join(
        f"{r} {ratios['first_output_s'][r]:.2f}; {ratios['exit_s'][r]:.2f}" for r in ratios["exit_s"]))
    return res
