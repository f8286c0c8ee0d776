"""capsule build | run | test | bench — see README.md and docs/cli.md."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from . import build, deps, image, qemu, stdio


def add_vm_options(p):
    p.add_argument("--mem", default="128M", help="guest memory (e.g. 128M, 2G)")
    p.add_argument("--cpus", type=int, default=1, help="virtual CPUs")
    p.add_argument("--accel", choices=qemu.ACCELS, default="auto",
                   help="auto = KVM only where kvm_intel/kvm_amd is loaded, else TCG")
    p.add_argument("--machine", choices=qemu.MACHINES, default="microvm")
    p.add_argument("--cmdline", default="", help="extra kernel command line (docs/cmdline.md)")
    p.add_argument("--verbose", action="store_true", help="kernel log at debug level")


def cmd_build(a):
    deps.ensure_for("build")
    build.build(quiet=not a.verbose)
    print(build.KERNEL)
    return 0


def quote_word(w):
    """A word for the kernel command line (docs/cmdline.md)."""
    if w and not any(c in w for c in ' \t\n"\\'):
        return w
    return '"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cmd_run(a):
    deps.ensure_for("build", "run")
    build.build(["capsule.elf"])
    cmdline = a.cmdline
    if a.verbose:
        cmdline = ("--verbose " + cmdline).strip()
    work = tempfile.mkdtemp(prefix="capsule-run-")
    initrd = None
    try:
        if a.program:
            initrd, guest_path = image.static_program_initrd(a.program, work, a.add)
            words = [guest_path] + list(a.args)
            cmdline = (cmdline + " -- " + " ".join(quote_word(w) for w in words)).strip()
        status_file = os.path.join(work, "status")
        st = stdio.Stdio(a.machine, verbose=a.verbose, program=bool(a.program))
        try:
            cmd = qemu.command(build.KERNEL, machine=a.machine, mem=a.mem, cpus=a.cpus,
                               accel=a.accel, cmdline=cmdline, initrd=initrd,
                               status_file=status_file, stdio=st)
        except ValueError as e:
            sys.exit(f"capsule: {e}")
        if a.verbose:
            print("capsule:", " ".join(cmd), file=sys.stderr)
        rc, stopped = stdio.run(cmd, st)
        if stopped is not None:
            return stopped  # stopped from the host (Ctrl-C, the terminal escape, SIGTERM)
        status, problem = qemu.decode_status(rc, status_file)
        if problem or status == qemu.PANIC_STATUS:
            st.report_serial()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if problem:
        print(f"capsule: {problem}", file=sys.stderr)
        return 1
    return status


def cmd_test(a):
    deps.ensure_for("build", "run", "test")
    # Reconfigure so that packages installed just now (GoogleTest) are found.
    build.run(["cmake", "-S", build.ROOT, "-B", build.BUILD, "-G", "Ninja"], quiet=True)
    build.build(quiet=False)
    cmd = ["ctest", "--test-dir", build.BUILD, "-j", str(a.jobs), "--output-on-failure"]
    if a.filter:
        cmd += ["-R", a.filter]
    return subprocess.call(cmd)


def cmd_bench(a):
    script = os.path.join(build.ROOT, "bench", a.name, "run.py")
    if not os.path.exists(script):
        sys.exit(f"capsule: no benchmark '{a.name}' (bench/*/run.py)")
    return subprocess.call([sys.executable, script, *a.args])


def main(argv):
    p = argparse.ArgumentParser(prog="capsule", description="Boot Linux programs as unikernel VMs.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the kernel and tools")
    b.add_argument("--verbose", action="store_true")
    b.set_defaults(fn=cmd_build)

    r = sub.add_parser("run", help="boot a program (or the bundled demo) in a VM")
    add_vm_options(r)
    r.add_argument("--add", action="append", default=[], metavar="HOST[:GUEST]",
                   help="also put a host file or directory into the guest")
    r.add_argument("program", nargs="?", help="a static x86-64 Linux program (host path or name on $PATH)")
    r.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    r.set_defaults(fn=cmd_run)

    t = sub.add_parser("test", help="build everything and run the whole test suite")
    t.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    t.add_argument("-R", "--filter", help="only tests matching this regex")
    t.set_defaults(fn=cmd_test)

    be = sub.add_parser("bench", help="run a benchmark from bench/")
    be.add_argument("name")
    be.add_argument("args", nargs=argparse.REMAINDER)
    be.set_defaults(fn=cmd_bench)

    # `--cmdline "--bootchart"`: argparse would take the value for an option.
    argv = list(argv)
    for i, w in enumerate(argv[:-1]):
        if w == "--cmdline":
            argv[i:i + 2] = [f"--cmdline={argv[i + 1]}"]
            break
    a = p.parse_args(argv)
    return a.fn(a)
