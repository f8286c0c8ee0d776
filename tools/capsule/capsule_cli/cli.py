"""capsule build | run | test | bench — see README.md and docs/cli.md."""
import argparse
import os
import sys
import time

# Only what every command needs: each command imports its own modules, so
# a cached `capsule run` loads no more than it uses (docs/cli.md).
from . import build, bundle, gdbstub, imagetree, qemu, trace


def add_vm_options(p):
    p.add_argument("--mem", default=None,
                   help="guest memory (e.g. 256M, 2G); default: 128M + 2x the image, rounded up to 32M")
    p.add_argument("--cpus", type=int, default=None, help="virtual CPUs (default 1)")
    p.add_argument("--accel", choices=qemu.ACCELS, default="auto",
                   help="auto = KVM only where kvm_intel/kvm_amd is loaded, else TCG")
    p.add_argument("--machine", choices=qemu.MACHINES, default="microvm")
    p.add_argument("--cmdline", default="", help="extra kernel command line (docs/cmdline.md)")
    p.add_argument("--net", default=None, metavar="user|none|tap:NAME",
                   help="the VM's network: QEMU user networking (default), none, or an existing tap device")
    p.add_argument("-p", "--publish", action="append", default=[], metavar="HOSTPORT:GUESTPORT[/udp]",
                   help="forward 127.0.0.1:HOSTPORT on the host to GUESTPORT in the VM (repeatable; user networking)")
    p.add_argument("--share", action="append", default=[], metavar="HOSTDIR:GUESTDIR[:ro]",
                   help="mount a host directory in the guest over virtio-fs where virtiofsd is installed, "
                        "else virtio-9p (repeatable; :ro refuses writes with EROFS); docs/virtiofs.md, docs/9p.md")
    p.add_argument("--share-via", choices=qemu.SHARE_VIA, default="auto",
                   help="the transport for --share: virtio-fs (virtiofsd) or virtio-9p (QEMU's own server); "
                        "auto = virtiofs where virtiofsd is installed and can run")
    p.add_argument("--disk", action="append", default=[], metavar="FILE[:/MOUNTPOINT][:ro][:nvme]",
                   help="attach a disk image (raw, or qcow2 when the file says so) as a virtio-blk device, "
                        "or with :nvme as an NVMe controller (--machine q35 only); with a mount point its "
                        "ext4 file system is mounted there (repeatable; docs/block.md)")
    p.add_argument("--ip", metavar="ADDR/PREFIX",
                   help="a static IPv4 address for the NIC instead of DHCP's (on user networking instead of "
                        "QEMU's 10.0.2.15/24: give --gw and --dns too); docs/net_device.md")
    p.add_argument("--gw", metavar="ADDR", help="with --ip: the IPv4 default router")
    p.add_argument("--ip6", metavar="ADDR/PREFIX",
                   help="a static IPv6 address for the NIC instead of SLAAC's (docs/net_device.md)")
    p.add_argument("--gw6", metavar="ADDR", help="with --ip6: the IPv6 default router instead of the RA's")
    p.add_argument("--dns", action="append", default=[], metavar="ADDR",
                   help="a name server for /etc/resolv.conf, IPv4 or IPv6 (one of each at most)")
    p.add_argument("--debug-kernel", action="store_true",
                   help="boot the debug kernel (build/capsule-debug.elf): heap red zones and quarantine, the "
                        "lock-order checker, sleeping with a spinlock held, long interrupts-off windows; slower "
                        "(docs/debug-kernel.md)")
    p.add_argument("--verbose", action="store_true",
                   help="kernel log at debug level, files the program did not find ([missing] lines), "
                        "what went into the image and why, image cache hit/miss")


def add_image_options(p):
    p.add_argument("--add", action="append", default=[], metavar="HOST[:GUEST]",
                   help="also put a host file or directory into the guest (GUEST default: /basename)")
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="environment variable for the program (repeatable)")
    p.add_argument("--cwd", metavar="DIR", help="the program's working directory (a guest path)")
    p.add_argument("--rootfs", metavar="DIR", help="use DIR as the whole guest root; PROGRAM is a path inside it")
    p.add_argument("--module", action="append", default=[], metavar="NAME[:CONFIG]",
                   help="bundled application from modules/ (repeatable; docs/modules.md)")
    p.add_argument("--root", choices=["auto", "disk", "initrd"], default="auto",
                   help="where the program's files are: an initrd that guest memory holds whole, or a "
                        "read-only ext4 disk under a writable RAM layer (auto: a disk when the image is "
                        "over 64 MiB; docs/cli.md \"Large images\")")
    p.add_argument("--package-cap", type=int, default=bundle.debpkg.DEFAULT_CAP >> 20, metavar="MIB",
                   help="at most this many MiB of Debian package files come with a program "
                        "(its package and its dependencies'; default %(default)s, 0: none)")


def quote_word(w):
    """A word for the kernel command line (docs/cmdline.md)."""
    if w and not any(c in w for c in ' \t\n"\\'):
        return w
    return '"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fail(msg):
    print(f"capsule: {msg}", file=sys.stderr)
    return 2


def prepare(a):
    """The plan and its packed image, or a BadInput raised before any VM."""
    if a.program and a.program.startswith("-"):
        raise bundle.BadInput(f"unknown option '{a.program}' (options go before PROGRAM)")
    if a.mem:
        try:
            qemu.parse_mem(a.mem)
        except ValueError as e:
            raise bundle.BadInput(str(e))
    if a.cpus is not None and not 1 <= a.cpus <= 64:
        raise bundle.BadInput(f"bad cpu count '{a.cpus}' (1..64)")
    try:
        qemu.net_args(a.machine, a.net or "user", a.publish)
        qemu.static_net_words(a.net or "user", a.ip6, a.gw6, a.dns, a.ip, a.gw)
        qemu.share_args(a.machine, a.share)
    except ValueError as e:
        raise bundle.BadInput(str(e))
    try:
        qemu.disk_args(a.machine, a.disk)
    except (ValueError, OSError) as e:
        raise bundle.BadInput(str(e))
    if a.package_cap < 0:
        raise bundle.BadInput(f"--package-cap: {a.package_cap} is negative")
    try:
        plan = bundle.make_plan(a.program, a.args, a.module, a.add, a.env, a.cwd, a.rootfs, a.verbose,
                                package_cap=a.package_cap << 20,
                                host_term=os.environ.get("TERM") if a.command == "run" else None)
        from . import imagecache, rootdisk
        label = plan.label or " ".join(plan.argv)
        mem_mib = int(qemu.parse_mem(a.mem)[:-1]) if a.mem else None
        if rootdisk.use_disk(getattr(a, "root", "initrd"), plan.tree, mem_mib):
            from . import deps
            deps.ensure_for("disk")  # mke2fs and debugfs
            disk = imagecache.image_for(plan.tree, verbose=a.verbose, label=label, kind="ext4")
            return plan, empty_initrd(), disk
        image = imagecache.image_for(plan.tree, verbose=a.verbose, label=label)
    except (imagetree.TreeError, OSError, ValueError) as e:
        raise bundle.BadInput(str(e))
    return plan, image, None


def empty_initrd():
    """A cpio with nothing in it (a disk root's RAM layer starts empty),
    made once in the cache."""
    from . import cpio, imagecache
    path = os.path.join(imagecache.cache_dir(), "empty.cpio")
    if not os.path.isfile(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        cpio.write_file(tmp, [])
        os.replace(tmp, path)
    return path


def vm_settings(a, plan, image_bytes, root_disk=None):
    # From a disk, the files are read as needed and their clean pages can
    # be dropped: an eighth of the image's size stands for what stays in
    # use (docs/cli.md "Large images").
    auto = bundle.auto_mem_mib(image_bytes // 8 if root_disk else image_bytes)
    mem = a.mem or plan.mem or f"{auto}M"
    cpus = a.cpus or plan.cpus or 1
    words = plan.kernel_words() + qemu.static_net_words(a.net or "user", a.ip6, a.gw6, a.dns, a.ip, a.gw)
    cmdline = " ".join(quote_word(w) for w in words)
    if a.cmdline:
        cmdline = (cmdline + " " + a.cmdline).strip()
    cmdline = (cmdline + " -- " + " ".join(quote_word(w) for w in plan.argv)).strip()
    return mem, cpus, cmdline


def strace_words(a):
    """The kernel options of --strace, --strace-filter and --strace-summary
    (docs/strace.md)."""
    words = []
    summary = getattr(a, "strace_summary", False)
    filtered = getattr(a, "strace_filter", None)
    # A filter alone traces (strace -e trace=SET); with --strace-summary
    # alone it selects what is counted (strace -c -e trace=SET).
    if getattr(a, "strace", False) or (filtered and not summary):
        words.append("--strace")
    if getattr(a, "strace_filter", None):
        words.append(quote_word(f"--strace-filter={a.strace_filter}"))
    if getattr(a, "strace_summary", False):
        words.append("--strace-summary")
    if getattr(a, "stats", False):
        words.append("--stats")
    if getattr(a, "trace", None):
        words.append(quote_word(f"--trace={a.trace}"))
    if getattr(a, "trace_buffer", None):
        words.append(f"--trace-buffer={a.trace_buffer}")
    return words


def traced(cmdline):
    """Whether the kernel will trace (so the trace port goes in): the CLI's
    flags, or --strace given through --cmdline (the kernel option)."""
    head = cmdline.partition(" -- ")[0].split()
    return any(w in ("--strace", "--strace-summary", "--stats") or w.startswith("--strace-filter=") for w in head) \
        or with_trace(cmdline)


def with_trace(cmdline):
    """Whether the kernel records tracepoints (--trace[=GROUPS], docs/trace.md):
    its rings come back on the trace port, into the --trace-output file."""
    return any(w == "--trace" or w.startswith("--trace=") for w in cmdline.partition(" -- ")[0].split())


def with_stats(cmdline):
    """Whether the kernel prints --stats (SIGUSR1 then asks for a report)."""
    return "--stats" in cmdline.partition(" -- ")[0].split()


def _work_dir():
    """A fresh private directory for one run (tempfile.mkdtemp without
    importing tempfile, which costs more than the rest of the run's start)."""
    base = os.environ.get("TMPDIR") or "/tmp"
    for i in range(100):
        d = os.path.join(base, f"capsule-run-{os.getpid()}-{time.monotonic_ns() % 1000000007}-{i}")
        try:
            os.mkdir(d, 0o700)
            return d
        except FileExistsError:
            continue
    import tempfile
    return tempfile.mkdtemp(prefix="capsule-run-")


def boot(a, kernel, initrd, mem, cpus, cmdline, net="user", publish=(), shares=(), tree=None, root_disk=None):
    words = strace_words(a)
    gdb_port = getattr(a, "gdb", None)
    if gdb_port is not None:
        # A panic halts for the debugger instead of powering off (docs/gdb.md).
        words.append("--gdb")
    if words:
        cmdline = " ".join(words) + " " + cmdline
    if a.verbose:
        # The kernel log at debug level, and each file the program looked
        # for and did not find (docs/cmdline.md --log-missing).
        cmdline = "--verbose --log-missing " + cmdline
    work = _work_dir()
    daemons = None  # virtiofsd per share (virtiofs.Daemons): stopped however the run ends
    try:
        status_file = os.path.join(work, "status")
        trace_out = getattr(a, "strace_output", None)
        try:
            trace_fd = os.open(trace_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644) \
                if trace_out and traced(cmdline) else None
        except OSError as e:
            return fail(f"--strace-output {trace_out}: {e.strerror}")
        data_out = getattr(a, "trace_output", None) or trace.DEFAULT_FILE
        try:
            data_fd = os.open(data_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644) \
                if with_trace(cmdline) else None
        except OSError as e:
            if trace_fd is not None:
                os.close(trace_fd)
            return fail(f"--trace-output {data_out}: {e.strerror}")
        from . import stdio
        st = stdio.Stdio(a.machine, verbose=a.verbose, program=True, trace=traced(cmdline), trace_fd=trace_fd,
                         stats=with_stats(cmdline), trace_data_fd=data_fd)
        extra = []
        try:
            via = qemu.share_via(getattr(a, "share_via", None)) if shares else "9p"
            qemu.check_fits(kernel, initrd, mem)
            if gdb_port is not None:
                gdbstub.check_port_free(gdb_port)
                extra = gdbstub.qemu_args(gdb_port)
            cmd = qemu.command(kernel, machine=a.machine, mem=mem, cpus=cpus, accel=a.accel,
                               cmdline=cmdline, initrd=initrd, status_file=status_file, stdio=st,
                               net=net, publish=publish, net_static=True, shares=shares,
                               disks=getattr(a, "disk", ()), root_disk=root_disk, extra=extra,
                               share_via=via, share_dir=work)
            if via == "virtiofs":
                from . import virtiofs
                daemons = virtiofs.Daemons(qemu.virtiofsd_commands(shares, work), work)
                daemons.start()
        except (ValueError, OSError) as e:  # virtiofs.DaemonError is an OSError
            return fail(str(e))
        if a.verbose:
            print("capsule:", " ".join(cmd), file=sys.stderr)
        if getattr(a, "debug_kernel", False):
            # The debug kernel's reports do not stop it: they are in the
            # kernel log, shown as it comes (docs/debug-kernel.md).
            st.live_log = True
        if gdb_port is not None:
            gdb_map = os.path.join(work, "gdb.json")
            gdbstub.write_map(gdb_map, gdb_port, kernel, tree)
            # The kernel log live: after a panic the VM stays for gdb, and
            # the report is the first thing to read.
            st.live_log = True
            print(f"capsule: the VM is paused for gdb on {gdbstub.HOST}:{gdb_port}; attach with\n"
                  f"  {gdbstub.attach_command(gdb_map)}", file=sys.stderr, flush=True)
        try:
            rc, stopped = stdio.run(cmd, st)
        finally:
            if daemons:
                daemons.stop()
        if data_fd is not None:
            # As perf record says what it wrote; `capsule trace` reads it.
            print(f"capsule: trace: {st.trace_data_bytes} bytes written to {data_out}"
                  + ("" if st.trace_data_bytes else " (the kernel sent none)"), file=sys.stderr)
        if stopped is not None:
            return stopped  # stopped from the host (Ctrl-C, the terminal escape, SIGTERM)
        status, problem = qemu.decode_status(rc, status_file)
        if problem or status == qemu.PANIC_STATUS:
            st.report_serial()
    finally:
        if daemons:
            daemons.stop()
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    if problem:
        print(f"capsule: {problem}", file=sys.stderr)
        return 1
    return status


def cmd_run(a):
    from . import deps
    deps.ensure_for("build", "run")
    if a.gdb is not None:
        try:
            a.gdb = gdbstub.parse_port(a.gdb)
        except ValueError as e:
            return fail(str(e))
    if a.trace is not None:
        try:
            trace.parse_groups(a.trace)
        except ValueError as e:
            return fail(f"--trace={a.trace}: {e}")
    if a.trace_buffer is not None and not 4 <= a.trace_buffer <= 4096:
        return fail(f"--trace-buffer {a.trace_buffer}: KiB per CPU, 4..4096")
    if a.image:
        if a.program or a.module or a.add or a.rootfs or a.env or a.cwd:
            return fail("--image boots a built image as it is: no PROGRAM, --module, --add, --rootfs, --env or --cwd")
        if a.debug_kernel:
            return fail("--image boots the kernel the image holds: build it with `capsule build --debug-kernel -o DIR`")
        from . import deploy
        try:
            m = deploy.load(a.image)
        except deploy.BundleError as e:
            return fail(str(e))
        cmdline = m["cmdline"]
        if a.cmdline:  # kernel options go before the program's " -- "
            head, sep, tail = cmdline.partition(" -- ")
            cmdline = f"{head} {a.cmdline}{sep}{tail}".strip()
        net = a.net or m.get("net", "user")
        publish = a.publish or m.get("publish", [])
        try:
            qemu.net_args(a.machine, net, publish)
            qemu.share_args(a.machine, a.share)
            static = qemu.static_net_words(net, a.ip6, a.gw6, a.dns, a.ip, a.gw)
        except ValueError as e:
            return fail(str(e))
        if static:  # after the image's own, so they win
            head, sep, tail = cmdline.partition(" -- ")
            cmdline = f"{head} {' '.join(static)}{sep}{tail}".strip()
        disk = os.path.join(a.image, m["root_disk"]) if m.get("root_disk") else None
        return boot(a, os.path.join(a.image, "capsule.elf"), os.path.join(a.image, "initrd.cpio"),
                    a.mem or m["mem"], a.cpus or m["cpus"], cmdline, net, publish, a.share, root_disk=disk)
    try:
        plan, image, disk = prepare(a)
    except bundle.BadInput as e:
        return fail(str(e))
    kernel = build.kernel_for(a.debug_kernel)
    size = os.path.getsize(disk or image)
    mem, cpus, cmdline = vm_settings(a, plan, size, disk)
    if a.verbose:
        print(f"capsule: {plan.label or 'image'}: {len(plan.tree.nodes)} entries, "
              f"{size >> 10} KiB {'root disk' if disk else 'initrd'}, memory {mem}", file=sys.stderr)
    return boot(a, kernel, image, mem, cpus, cmdline, a.net or "user", a.publish, a.share, plan.tree, disk)


def cmd_build(a):
    from . import deploy, deps
    deps.ensure_for("build")
    if a.share:
        return fail("--share goes with `capsule run`: a host directory belongs to the host running the VM")
    if a.disk:
        return fail("--disk goes with `capsule run`: a disk image belongs to the host running the VM")
    if a.out is None and len(a.args) >= 2 and a.args[-2] == "-o":
        a.out = a.args[-1]  # `capsule build PROGRAM ARGS... -o DIR`
        a.args = a.args[:-2]
    if a.out is None:
        if a.program or a.module or a.add or a.rootfs:
            return fail("build: where to? add -o DIR (capsule build [OPTIONS] PROGRAM [ARGS] -o DIR)")
        build.build(quiet=not a.verbose)
        print(build.DEBUG_KERNEL if a.debug_kernel else build.KERNEL)
        return 0
    try:
        plan, image, disk = prepare(a)
    except bundle.BadInput as e:
        return fail(str(e))
    kernel = build.DEBUG_KERNEL if a.debug_kernel else build.KERNEL
    build.build([os.path.basename(kernel)], quiet=not a.verbose)
    mem, cpus, cmdline = vm_settings(a, plan, os.path.getsize(disk or image), disk)
    manifest = {
        "label": plan.label, "argv": plan.argv, "env": plan.env, "cwd": plan.cwd,
        "mem": mem, "cpus": cpus, "machine": a.machine, "accel": a.accel, "cmdline": cmdline,
        "image": os.path.basename(image), "image_bytes": os.path.getsize(image),
        "net": a.net or "user", "publish": a.publish,
        "kernel": "debug" if a.debug_kernel else "normal",
    }
    if disk:
        manifest["root_disk"] = "root.ext4"
        manifest["root_disk_bytes"] = os.path.getsize(disk)
    try:
        qemu.check_fits(kernel, image, manifest["mem"])
    except ValueError as e:
        return fail(str(e))
    try:
        deploy.write(a.out, kernel, image, manifest, plan.label or "the image", root_disk=disk)
    except (OSError, ValueError) as e:
        return fail(f"build: cannot write {a.out}: {e}")
    print(a.out)
    return 0


def cmd_test(a):
    import subprocess
    from . import deps
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
    import subprocess
    return subprocess.call([sys.executable, script, *a.args])


def cmd_disk_create(a):
    """capsule disk create --size 1G [--from DIR] FILE: an ext4 image made
    by Debian's mke2fs (-d DIR copies a tree in)."""
    import subprocess
    from . import deps
    deps.ensure_for("disk")
    try:
        size = qemu.parse_mem(a.size)
    except ValueError:
        return fail(f"bad --size '{a.size}' (e.g. 64M, 1G)")
    if a.src and not os.path.isdir(a.src):
        return fail(f"--from {a.src}: not a directory")
    if os.path.exists(a.file) and not a.force:
        return fail(f"{a.file} exists (--force to replace it)")
    cmd = ["mke2fs", "-q", "-F", "-t", "ext4", "-E", "root_owner=0:0"]
    if a.src:
        cmd += ["-d", a.src]
    cmd += [a.file, size]
    try:
        with open(a.file, "wb"):
            pass
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        return fail(f"disk create: {e}")
    if r.returncode != 0:
        return fail(f"disk create: mke2fs failed: {r.stdout.strip()}")
    print(a.file)
    return 0


def cmd_cache(a):
    from . import cache_cmd
    return cache_cmd.run(a)


def bare_gdb(argv, run_parser):
    """`capsule run --gdb PROGRAM`: a bare --gdb takes the default port and
    never the next word (which is PROGRAM, or another option). The words
    before PROGRAM are scanned with the run parser's options; after it they
    are the program's and stay as they are."""
    if len(argv) < 2 or argv[0] != "run":
        return argv
    takes_value = {}
    for action in run_parser._actions:
        for o in action.option_strings:
            takes_value[o] = action.nargs != 0 and action.nargs != "?"
    i = 1
    while i < len(argv):
        w = argv[i]
        if w == "--" or not w.startswith("-") or w == "-":
            break
        if w == "--gdb":
            argv[i] = f"--gdb={gdbstub.DEFAULT_PORT}"
        elif w == "--trace":
            argv[i] = "--trace=all"  # never the program's name as the groups
        elif "=" not in w and takes_value.get(w, False):
            i += 1
        i += 1
    return argv


def main(argv):
    p = argparse.ArgumentParser(prog="capsule", description="Boot Linux programs as unikernel VMs.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the kernel; with -o DIR, a deployable image of a program or module")
    add_vm_options(b)
    add_image_options(b)
    b.add_argument("-o", "--out", metavar="DIR",
                   help="write DIR/capsule.elf, initrd.cpio, run.sh, manifest.json")
    b.add_argument("program", nargs="?", help="x86-64 Linux program (host path or name on $PATH)")
    b.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    b.set_defaults(fn=cmd_build)

    r = sub.add_parser("run", help="boot a program, a module or a built image in a VM")
    add_vm_options(r)
    add_image_options(r)
    r.add_argument("--image", metavar="DIR", help="boot an image written by `capsule build -o DIR`")
    r.add_argument("--strace", action="store_true",
                   help="print every system call as strace does, on stderr or --strace-output (docs/strace.md)")
    r.add_argument("--strace-filter", metavar="SET",
                   help="trace only these calls: names and %%classes (%%file, %%network, %%memory, %%signal, "
                        "%%process, %%desc...), comma-separated, '!' negates (strace -e trace=SET)")
    r.add_argument("--strace-summary", action="store_true",
                   help="a table of calls, errors and time per system call at exit (strace -c)")
    r.add_argument("-o", "--strace-output", metavar="FILE", help="write the trace to FILE instead of stderr")
    r.add_argument("--gdb", metavar="PORT", nargs="?", const=str(gdbstub.DEFAULT_PORT),
                   help=f"QEMU's gdb stub on 127.0.0.1:PORT (default {gdbstub.DEFAULT_PORT}), the VM paused "
                        "until gdb attaches; prints the gdb command (docs/gdb.md). Spell a port --gdb=PORT")
    r.add_argument("--stats", action="store_true",
                   help="at exit (and on SIGUSR1 to the CLI) print system calls, page faults, context switches, "
                        "times and peak memory on stderr or --strace-output (docs/stats.md)")
    r.add_argument("--trace", metavar="GROUPS", nargs="?", const="all",
                   help="record kernel tracepoints (groups sched, fault, syscall, block, net, proc, all; default "
                        "all) in per-CPU rings, written at exit to --trace-output; read it with `capsule trace` "
                        "(docs/trace.md). Spell groups --trace=GROUPS")
    r.add_argument("--trace-output", metavar="FILE",
                   help=f"where --trace writes its records (default ./{trace.DEFAULT_FILE})")
    r.add_argument("--trace-buffer", metavar="KIB", type=int,
                   help="each CPU's trace ring in KiB (default 1024; the oldest records are overwritten)")
    r.add_argument("program", nargs="?",
                   help="x86-64 Linux program, static or dynamic (host path or name on $PATH); "
                        "without one and without --module: the hello demo")
    r.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    r.set_defaults(fn=cmd_run)

    t = sub.add_parser("test", help="build everything and run the whole test suite")
    t.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    t.add_argument("-R", "--filter", help="only tests matching this regex")
    t.set_defaults(fn=cmd_test)

    d = sub.add_parser("disk", help="disk images for --disk")
    dsub = d.add_subparsers(dest="disk_command", required=True)
    dc = dsub.add_parser("create", help="make an ext4 image (Debian's mke2fs)")
    dc.add_argument("--size", required=True, help="image size (e.g. 64M, 1G)")
    dc.add_argument("--from", dest="src", metavar="DIR", help="copy DIR's tree into the image")
    dc.add_argument("--force", action="store_true", help="replace FILE if it exists")
    dc.add_argument("file", metavar="FILE")
    dc.set_defaults(fn=cmd_disk_create)

    tr = sub.add_parser("trace", help="print the kernel trace `capsule run --trace` wrote (docs/trace.md)")
    trace.add_arguments(tr)
    tr.set_defaults(fn=trace.run)

    ca = sub.add_parser("cache", help="the image cache: list, size, prune [--max SIZE], clear (docs/cli.md)")
    ca.set_defaults(fn=cmd_cache)
    if argv[:1] == ["cache"]:
        from . import cache_cmd
        cache_cmd.add_arguments(ca)

    be = sub.add_parser("bench", help="run a benchmark from bench/")
    be.add_argument("name")
    be.add_argument("args", nargs=argparse.REMAINDER)
    be.set_defaults(fn=cmd_bench)

    # `--cmdline "--bootchart"`: argparse would take the value for an option.
    argv = bare_gdb(list(argv), r)
    for i, w in enumerate(argv[:-1]):
        if w == "--cmdline":
            argv[i:i + 2] = [f"--cmdline={argv[i + 1]}"]
            break
    a = p.parse_args(argv)
    return a.fn(a)
