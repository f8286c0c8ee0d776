"""Building QEMU command lines and reading back the guest's exit status.

The kernel reports its exit status N (0..126) through isa-debug-exit
(arch/x64/power.cc) by writing N + 1, which makes QEMU exit with
((N + 1) << 1) | 1. QEMU's own failures exit 1; with -no-reboot a guest
reset (a triple fault) exits 0.
"""
import os
import re
import struct

MACHINES = ("microvm", "q35")
PANIC_STATUS = 125  # lib/include/lib/panic.h: the kernel panicked
ACCELS = ("auto", "kvm", "tcg")

# microvm without the legacy devices we do not use: no option ROMs, PIT or
# 8259 PIC (the kernel uses the LAPIC and IOAPIC). ACPI stays on: it carries
# the MADT (CPUs, IOAPICs) and the power-off register.
MACHINE_ARGS = {
    "microvm": "microvm,x-option-roms=off,pit=off,pic=off",
    "q35": "q35",
}


def hardware_kvm_available():
    """True only with a hardware KVM module (see docs/platform.md: /dev/kvm
    can be a software emulator that cannot run real guests)."""
    hw = os.path.isdir("/sys/module/kvm_intel") or os.path.isdir("/sys/module/kvm_amd")
    return hw and os.access("/dev/kvm", os.R_OK | os.W_OK)


def choose_accel(accel):
    if accel == "auto":
        return "kvm" if hardware_kvm_available() else "tcg"
    return accel


def host_tsc_khz():
    """The host's TSC rate; a TCG guest's TSC follows it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                m = re.match(r"cpu MHz\s*:\s*([0-9.]+)", line)
                if m:
                    return int(float(m.group(1)) * 1000)
    except OSError:
        pass
    return 0


MIN_MEM_MIB = 2  # QEMU's microvm itself (bench/boot/trivial: a trivial kernel fails in 1M)


def parse_mem(mem):
    m = re.fullmatch(r"(\d+)([KMGkmg]?)", str(mem))
    if not m:
        raise ValueError(f"bad memory size '{mem}' (e.g. 128M, 2G)")
    n, unit = int(m.group(1)), m.group(2).upper()
    mib = {"K": n / 1024, "M": n, "G": n * 1024, "": n}[unit]
    if mib < MIN_MEM_MIB:
        raise ValueError(f"memory size '{mem}' is below the {MIN_MEM_MIB}M minimum")
    return f"{int(mib)}M"


def cmdline_has_tsc(cmdline):
    """True when the kernel part of `cmdline` (before " -- ") sets --tsc-khz."""
    kernel_part = cmdline.split(" -- ", 1)[0] if not cmdline.startswith("-- ") else ""
    return "--tsc-khz=" in kernel_part


MIB = 1 << 20
# Above the kernel and the image, what the boot itself takes (docs/memory.md
# "The smallest VM"): the heap with the devices `capsule run` adds (virtio-net's
# 256 KiB of receive buffers, the console: ~320 KiB), the image's inodes (~0.5
# KiB an entry: ~1/64 of the image's bytes for Debian's python3), page metadata
# (RAM/256), page tables and the first process; the RAM of the first MiB
# (~570 KiB) comes back. Measured: the static hello boots in 5M (4M: 52 KiB
# left, its exec fails), python3's image (35.2 MiB) in 40M (39M: the first
# process cannot be made). Without devices (QEMU alone) the hello runs in 4M.
BOOT_MARGIN = 1 << 20


def boot_need(kernel, initrd):
    """Bytes of guest RAM the kernel needs to boot this image and start the
    program (not to run it)."""
    size = os.path.getsize(initrd) if initrd else 0
    return kernel_end(kernel) + size + BOOT_MARGIN + size // 64


def kernel_end(kernel):
    """Where the kernel's loaded image ends in guest-physical memory (the
    highest p_paddr + p_memsz of its PT_LOAD headers): QEMU puts the initrd
    at the top of RAM and does not check that it stays above the kernel."""
    with open(kernel, "rb") as f:
        eh = f.read(64)
        if eh[:4] != b"\x7fELF" or eh[4] != 2:
            raise ValueError(f"{kernel}: not a 64-bit ELF file")
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    end = 0
    for i in range(phnum):
        p_type, = struct.unpack_from("<I", table, i * phentsize)
        if p_type == 1:  # PT_LOAD
            paddr, _, memsz = struct.unpack_from("<QQQ", table, i * phentsize + 24)
            end = max(end, paddr + memsz)
    return end


def check_fits(kernel, initrd, mem):
    """A clear error instead of a guest that dies before its first word:
    the kernel, the image above it and a working margin must fit in `mem`."""
    need = boot_need(kernel, initrd)
    need_mib = (need + MIB - 1) // MIB
    have_mib = int(parse_mem(mem)[:-1])
    if have_mib < need_mib:
        raise ValueError(f"--mem {mem} is too small to boot this image: the kernel and the image "
                         f"({os.path.getsize(initrd) >> 10} KiB) need at least {need_mib}M, "
                         f"and the program more")


def parse_net(net):
    """--net: "user" (QEMU user networking), "none", or "tap:NAME"."""
    if net in ("user", "none") or (net.startswith("tap:") and re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", net[4:])):
        return net
    raise ValueError(f"bad --net '{net}' (user, none, tap:NAME)")


def parse_publish(spec):
    """-p HOSTPORT:GUESTPORT[/udp|/tcp] (docker's syntax) -> (proto, host, guest)."""
    m = re.fullmatch(r"(\d+):(\d+)(?:/(tcp|udp))?", spec)
    if not m or not all(1 <= int(m.group(i)) <= 65535 for i in (1, 2)):
        raise ValueError(f"bad -p '{spec}' (HOSTPORT:GUESTPORT[/udp], ports 1..65535)")
    return (m.group(3) or "tcp", int(m.group(1)), int(m.group(2)))


# QEMU's user network, stated (these are its defaults): the guest's address,
# the host as the guest sees it (its 127.0.0.1), the DNS forwarder.
USER_NET = "net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,dhcpstart=10.0.2.15"
USER_NET_KERNEL_WORDS = "--ip=10.0.2.15/24 --gw=10.0.2.2 --dns=10.0.2.3"


def static_net_words(net, ip6=None, gw6=None, dns=(), ip=None, gw=None):
    """Kernel words for `capsule run [--ip ADDR/PREFIX [--gw ADDR]] [--ip6
    ADDR/PREFIX [--gw6 ADDR]] [--dns ADDR]` (docs/net_device.md): a static
    IPv4 address instead of DHCP's (on user networking: instead of QEMU's
    own, which the CLI states otherwise), a static IPv6 address instead of
    SLAAC's, default routers, name servers for /etc/resolv.conf (at most one
    IPv4 and one IPv6). ValueError on bad input."""
    import ipaddress
    words = []
    if not (ip or gw or ip6 or gw6 or dns):
        return words
    if parse_net(net or "none") == "none":
        raise ValueError("--ip, --gw, --ip6, --gw6 and --dns need a network (--net user or tap:NAME)")

    def unicast4(text, what):
        try:
            a = ipaddress.IPv4Address(text)
        except ValueError:
            raise ValueError(f"bad {what} '{text}' (an IPv4 address A.B.C.D)") from None
        if a.is_multicast or a.is_unspecified or a.is_loopback or a == ipaddress.IPv4Address("255.255.255.255"):
            raise ValueError(f"bad {what} '{text}' (a unicast IPv4 address: not 0.0.0.0, 127/8, multicast "
                             "or broadcast)")
        return a

    if ip:
        addr, slash, prefix = ip.partition("/")
        if not slash or not prefix.isdigit() or not 1 <= int(prefix) <= 32:
            raise ValueError(f"bad --ip '{ip}' (ADDR/PREFIX, prefix 1..32)")
        words.append(f"--ip={unicast4(addr, '--ip')}/{int(prefix)}")
    if gw:
        if not ip:
            raise ValueError("--gw goes with --ip (without it DHCP's router is used)")
        g = unicast4(gw, "--gw")
        if g not in ipaddress.IPv4Network(ip, strict=False):
            raise ValueError(f"bad --gw '{gw}' (not on --ip's subnet {ipaddress.IPv4Network(ip, strict=False)})")
        words.append(f"--gw={g}")

    def unicast6(text, what):
        try:
            a = ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError(f"bad {what} '{text}' (an IPv6 address)") from None
        if a.is_multicast or a.is_unspecified or a.is_loopback or a.ipv4_mapped:
            raise ValueError(f"bad {what} '{text}' (a unicast IPv6 address: not ::, ::1, multicast or v4-mapped)")
        return a

    if ip6:
        addr, slash, prefix = ip6.partition("/")
        if not slash or not prefix.isdigit() or not 1 <= int(prefix) <= 128:
            raise ValueError(f"bad --ip6 '{ip6}' (ADDR/PREFIX, prefix 1..128)")
        words.append(f"--ip6={unicast6(addr, '--ip6').compressed}/{int(prefix)}")
    if gw6:
        if not ip6:
            raise ValueError("--gw6 goes with --ip6 (without it the Router Advertisement's router is used)")
        words.append(f"--gw6={unicast6(gw6, '--gw6').compressed}")
    v4 = v6 = 0
    for d in dns:
        if ":" in d:
            words.append(f"--dns={unicast6(d, '--dns').compressed}")
            v6 += 1
        else:
            try:
                a = ipaddress.IPv4Address(d)
            except ValueError:
                raise ValueError(f"bad --dns '{d}' (A.B.C.D or an IPv6 address)") from None
            if a.is_unspecified or a.is_multicast:
                raise ValueError(f"bad --dns '{d}' (a unicast address)")
            words.append(f"--dns={a}")
            v4 += 1
    if v4 > 1 or v6 > 1:
        raise ValueError("--dns: at most one IPv4 and one IPv6 server")
    # The kernel takes a --dns with a static address only (cmdline.cc):
    # user networking always has one (USER_NET_KERNEL_WORDS); a tap's
    # IPv4 comes from DHCP, with its servers.
    if parse_net(net) != "user" and ((v4 and not ip) or (v6 and not ip6)):
        raise ValueError("--dns with --net tap: an IPv4 server with --ip, an IPv6 server with --ip6 "
                         "(DHCP gives the rest)")
    return words


def cmdline_has_ip(cmdline):
    """True when the kernel part of `cmdline` (before " -- ") sets --ip."""
    kernel_part = cmdline.split(" -- ", 1)[0] if not cmdline.startswith("-- ") else ""
    return "--ip=" in kernel_part


# The driver's bound on queue pairs (drivers/virtio/net_mq.h MAX_PAIRS).
NET_MAX_PAIRS = 8
IFF_MULTI_QUEUE = 0x100  # linux/if_tun.h, in /sys/class/net/NAME/tun_flags


def tap_multi_queue(name):
    """True when the tap device NAME was made multi-queue (`ip tuntap add
    ... multi_queue`): only such a tap can be opened with queues=N."""
    try:
        with open(f"/sys/class/net/{name}/tun_flags") as f:
            return bool(int(f.read().strip(), 16) & IFF_MULTI_QUEUE)
    except (OSError, ValueError):
        return False


def net_queue_pairs(net, cpus, multi_queue=None):
    """The NIC's queue pairs: one per CPU (at most NET_MAX_PAIRS) on a
    multi-queue tap, else one (user networking has one queue; a
    single-queue tap cannot be opened with more)."""
    net = parse_net(net or "none")
    cpus = int(cpus or 1)
    if not net.startswith("tap:") or cpus < 2:
        return 1
    if multi_queue is None:
        multi_queue = tap_multi_queue(net[4:])
    return min(cpus, NET_MAX_PAIRS) if multi_queue else 1


def net_args(machine, net, publish=(), cpus=1, multi_queue=None):
    """QEMU arguments for one virtio-net NIC (docs/net_device.md). User
    networking forwards each published port from the host's 127.0.0.1 only.
    With several CPUs on a multi-queue tap (multi_queue: None looks at the
    tap), the NIC gets a queue pair per CPU: queues=N on the tap, mq=on on
    the device and on q35 2N + 2 MSI-X vectors. QEMU cannot open a
    multi-queue tap with one queue (EINVAL): with one CPU it gets queues=2
    and a device without mq, which uses the first."""
    net = parse_net(net or "none")
    forwards = [parse_publish(p) if isinstance(p, str) else tuple(p) for p in publish]
    if net == "none":
        if forwards:
            raise ValueError("-p needs a network (--net user)")
        return []
    if net.startswith("tap:") and multi_queue is None:
        multi_queue = tap_multi_queue(net[4:])
    pairs = net_queue_pairs(net, cpus, multi_queue)
    if net == "user":
        backend = f"user,id=capsule-net0,{USER_NET}" + "".join(
            f",hostfwd={proto}:127.0.0.1:{host}-:{guest}" for proto, host, guest in forwards)
    else:
        if forwards:
            raise ValueError("-p forwards ports of user networking; with a tap device the guest is reachable as it is")
        backend = f"tap,id=capsule-net0,ifname={net[4:]},script=no,downscript=no"
        if multi_queue:
            # A multi-queue tap cannot be opened as one queue: with one
            # CPU QEMU opens two and the device (no mq) uses the first.
            backend += f",queues={max(pairs, 2)}"
    if machine == "microvm":
        mq = ",mq=on" if pairs > 1 else ""
        device = ["-global", "virtio-mmio.force-legacy=false", "-device", f"virtio-net-device,netdev=capsule-net0{mq}"]
    else:
        mq = f",mq=on,vectors={2 * pairs + 2}" if pairs > 1 else ""
        device = ["-device", f"virtio-net-pci,netdev=capsule-net0,disable-legacy=on,romfile={mq}"]
    return ["-netdev", backend, *device]


def parse_share(spec):
    """--share HOSTDIR:GUESTDIR[:ro] -> (absolute host dir, guest dir, read_only).
    ValueError when the host directory does not exist or the guest path is
    not an absolute directory other than /."""
    ro = spec.endswith(":ro")
    body = spec[:-3] if ro else spec
    host, sep, guest = body.rpartition(":")
    if not sep or not host or not guest:
        raise ValueError(f"bad --share '{spec}' (HOSTDIR:GUESTDIR[:ro])")
    if not os.path.isdir(host):
        raise ValueError(f"--share {spec}: the host directory {host} does not exist or is not a directory")
    if not guest.startswith("/") or guest.rstrip("/") == "" or any(c in guest for c in " \t\n\"\\:"):
        raise ValueError(f"--share {spec}: the guest directory must be an absolute path other than / "
                         "(no spaces, quotes or colons)")
    if any(part in (".", "..") for part in guest.split("/")):
        raise ValueError(f"--share {spec}: the guest directory may not contain . or ..")
    return os.path.abspath(host), guest.rstrip("/"), ro


SHARE_VIA = ("auto", "9p", "virtiofs")
VIRTIOFSD_PATHS = ("/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd")


def find_virtiofsd():
    """The virtiofsd binary (Debian's qemu-system-common carries the C
    daemon at /usr/lib/qemu/virtiofsd), or None."""
    for path in VIRTIOFSD_PATHS:
        if os.access(path, os.X_OK):
            return path
    import shutil
    return shutil.which("virtiofsd")


def share_via(via=None):
    """The transport for --share (docs/virtiofs.md): "auto" (None) is
    virtio-fs where virtiofsd is installed and can run (it needs root for
    its namespace sandbox), else virtio-9p. ValueError when virtiofs is
    asked for and cannot be had."""
    if via in (None, "auto"):
        return "virtiofs" if find_virtiofsd() and os.geteuid() == 0 else "9p"
    if via not in SHARE_VIA:
        raise ValueError(f"bad --share-via '{via}' (9p, virtiofs)")
    if via == "virtiofs":
        if not find_virtiofsd():
            raise ValueError("--share-via virtiofs: virtiofsd is not installed "
                             "(/usr/lib/qemu/virtiofsd or virtiofsd on PATH; Debian: qemu-system-common)")
        if os.geteuid() != 0:
            raise ValueError("--share-via virtiofs: virtiofsd needs root (its sandbox uses namespaces); "
                             "use --share-via 9p")
    return via


def virtiofs_socket(sock_dir, i):
    return os.path.join(sock_dir, f"vfs{i}.sock")


def share_args(machine, shares=(), via="9p", sock_dir=None):
    """QEMU arguments and kernel words for --share. via "9p" (docs/9p.md):
    one virtio-9p device per share, mount tag capsuleN, QEMU's local backend
    (security_model=none: files are created as the user running QEMU;
    readonly=on for :ro, and the kernel refuses writes with EROFS too).
    via "virtiofs" (docs/virtiofs.md): one vhost-user-fs device per share,
    tag capsuleN, talking to the virtiofsd at virtiofs_socket(sock_dir, N)
    (virtiofsd_commands); command() makes guest memory shareable."""
    args, words = [], []
    for i, spec in enumerate(shares):
        host, guest, ro = parse_share(spec) if isinstance(spec, str) else tuple(spec)
        tag = f"capsule{i}"
        if via == "virtiofs":
            sock = virtiofs_socket(sock_dir or "/tmp", i).replace(",", ",,")
            args += ["-chardev", f"socket,id=capsule-vfs{i},path={sock}"]
            if machine == "microvm":
                args += ["-global", "virtio-mmio.force-legacy=false",
                         "-device", f"vhost-user-fs-device,chardev=capsule-vfs{i},tag={tag}"]
            else:
                args += ["-device", f"vhost-user-fs-pci,chardev=capsule-vfs{i},tag={tag}"]
            # The C virtiofsd has no read-only mode: the kernel refuses writes.
            words.append(f"--virtiofs={tag}:{guest}" + (":ro" if ro else ""))
            continue
        path = host.replace(",", ",,")
        args += ["-fsdev", f"local,id=capsule-fs{i},path={path},security_model=none" + (",readonly=on" if ro else "")]
        if machine == "microvm":
            args += ["-global", "virtio-mmio.force-legacy=false",
                     "-device", f"virtio-9p-device,fsdev=capsule-fs{i},mount_tag={tag}"]
        else:
            args += ["-device", f"virtio-9p-pci,fsdev=capsule-fs{i},mount_tag={tag},disable-legacy=on"]
        words.append(f"--share={tag}:{guest}" + (":ro" if ro else ""))
    return args, words


def virtiofsd_commands(shares, sock_dir, daemon=None):
    """One virtiofsd per share: [(argv, socket path)]. cache=none: the guest
    keeps nothing either (docs/virtiofs.md), so host changes show at once."""
    daemon = daemon or find_virtiofsd()
    out = []
    for i, spec in enumerate(shares):
        host, _, _ = parse_share(spec) if isinstance(spec, str) else tuple(spec)
        sock = virtiofs_socket(sock_dir, i)
        out.append(([daemon, f"--socket-path={sock}", "-o", f"source={host}", "-o", "cache=none",
                     "-o", "no_posix_lock", "-o", "no_flock", "-o", "log_level=err"], sock))
    return out


QCOW2_MAGIC = b"QFI\xfb"


DISK_BUSES = ("virtio", "nvme")


def parse_disk(spec):
    """--disk FILE[:/MOUNTPOINT][:ro][:nvme] -> (file, mountpoint or None, ro, bus).
    The options after the file may come in any order: a mount point
    (absolute), `ro`, and the bus (`nvme`, or `virtio`, the default). The
    file must exist (docs/cli.md)."""
    parts = spec.split(":")
    ro = False
    mount = None
    bus = None
    # Trailing options, at most one of each; the rest is the file name
    # (which may itself hold ':').
    while len(parts) > 1:
        last = parts[-1]
        if last == "ro" and not ro:
            ro = True
        elif last in DISK_BUSES and bus is None:
            bus = last
        elif last.startswith("/") and mount is None:
            mount = last
        else:
            break
        parts = parts[:-1]
    path = ":".join(parts)
    if not path:
        raise ValueError(f"bad --disk '{spec}' (FILE[:/MOUNTPOINT][:ro][:nvme])")
    if not os.path.isfile(path):
        raise ValueError(f"--disk {path}: no such file")
    if mount is not None:
        if any(c in mount for c in ' \t\n"\\:') or "/../" in mount + "/" or mount.rstrip("/") == "":
            raise ValueError(f"bad mount point '{mount}' in --disk '{spec}' (an absolute directory other than /)")
        mount = mount.rstrip("/")
    return path, mount, ro, bus or "virtio"


def disk_format(path):
    """QEMU's format for an image: qcow2 when the file says so, raw otherwise."""
    with open(path, "rb") as f:
        return "qcow2" if f.read(4) == QCOW2_MAGIC else "raw"


def disk_args(machine, disks, cpus=1):
    """QEMU arguments and kernel words for --disk specs: each image a
    virtio-blk device (or, with `:nvme` on q35, an NVMe controller) with
    serial capsuleN, and --disk=capsuleN[:/MOUNT][:ro] for the kernel, which
    finds the disk by that serial whatever its bus (docs/block.md).
    A writable disk takes discard=unmap (the guest's discards and
    write-zeroes with unmap punch holes in the image) and
    detect-zeroes=unmap (written zeros too); virtio-blk gets a request
    queue per CPU (num-queues)."""
    args, words = [], []
    virtio_mmio = False
    for i, spec in enumerate(disks):
        path, mount, ro, bus = parse_disk(spec)
        if bus == "nvme" and machine != "q35":
            raise ValueError(f"--disk '{spec}': NVMe is a PCI device and {machine} has no PCI "
                             "(use --machine q35, or a virtio disk)")
        drive = f"file={path},if=none,id=capsule-disk{i},format={disk_format(path)},cache=unsafe"
        if ro:
            drive += ",readonly=on"
        else:
            drive += ",discard=unmap,detect-zeroes=unmap"
        queues = f",num-queues={int(cpus)}"
        if bus == "nvme":
            dev = f"nvme,drive=capsule-disk{i},serial=capsule{i}"
        elif machine == "microvm":
            dev = f"virtio-blk-device,drive=capsule-disk{i},serial=capsule{i}{queues}"
            if not virtio_mmio:
                args += ["-global", "virtio-mmio.force-legacy=false"]
                virtio_mmio = True
        else:
            dev = f"virtio-blk-pci,drive=capsule-disk{i},serial=capsule{i}{queues},disable-legacy=on,romfile="
        args += ["-drive", drive, "-device", dev]
        words.append(f"--disk=capsule{i}" + (f":{mount}" if mount else "") + (":ro" if ro else ""))
    return args, words


ROOT_DISK_SERIAL = "capsule-root"


def root_disk_args(machine, path):
    """QEMU arguments and the kernel word for a root disk (docs/overlay.md
    "A disk root"): the image read-only as a virtio-blk device with serial
    capsule-root, and --root-disk=capsule-root."""
    drive = f"file={path},if=none,id=capsule-root,format=raw,readonly=on"
    if machine == "microvm":
        dev = f"virtio-blk-device,drive=capsule-root,serial={ROOT_DISK_SERIAL}"
        args = ["-global", "virtio-mmio.force-legacy=false"]
    else:
        dev = f"virtio-blk-pci,drive=capsule-root,serial={ROOT_DISK_SERIAL},disable-legacy=on,romfile="
        args = []
    return args + ["-drive", drive, "-device", dev], [f"--root-disk={ROOT_DISK_SERIAL}"]


def command(kernel, machine="microvm", mem="128M", cpus=1, accel="auto", cmdline="",
            initrd=None, extra=(), status_file=None, stdio=None, tsc_khz=None, net=None, publish=(),
            net_static=False, shares=(), disks=(), root_disk=None, net_multi_queue=None,
            share_via="9p", share_dir=None):
    """stdio: a capsule_cli.stdio.Stdio that wires the serial port and the
    program's streams (docs/console.md); without it the serial port is
    QEMU's stdio (the test harness reads it there). tsc_khz: the rate passed
    under TCG; None: this host's (host_tsc_khz), 0: none. net: None or
    "none" (no NIC), "user", "tap:NAME"; publish: -p forwards; shares:
    --share specs (share_args), over share_via ("9p" or "virtiofs", whose
    daemons' sockets are in share_dir: virtiofsd_commands). net_static:
    with "user", give the kernel QEMU's fixed addresses (--ip, --gw, --dns)
    so that it does not wait for DHCP at boot (unless cmdline has --ip).
    disks: --disk specs (FILE[:/MOUNTPOINT][:ro][:nvme], disk_args).
    root_disk: an ext4 image that is the root's lower layer (root_disk_args).
    net_multi_queue: whether a tap is multi-queue (net_args); None: look."""
    if machine not in MACHINES:
        raise ValueError(f"unknown machine '{machine}' (microvm, q35)")
    if not 1 <= int(cpus) <= 64:
        raise ValueError(f"bad cpu count '{cpus}' (1..64)")
    accel = choose_accel(accel)
    words = []
    khz = host_tsc_khz() if tsc_khz is None else tsc_khz
    if khz and accel == "tcg" and not cmdline_has_tsc(cmdline):
        words.append(f"--tsc-khz={khz}")
    if net_static and net == "user" and not cmdline_has_ip(cmdline):
        words.append(USER_NET_KERNEL_WORDS)
    if stdio and stdio.kernel_args():
        words.append(stdio.kernel_args())
    share_qemu, share_words = share_args(machine, shares, share_via, share_dir)
    if shares and share_via == "virtiofs":
        # vhost-user: virtiofsd reads and writes guest memory itself, so
        # guest RAM must be a shareable memfd.
        size = parse_mem(mem)
        share_qemu = ["-object", f"memory-backend-memfd,id=capsule-mem,size={size},share=on",
                      "-machine", "memory-backend=capsule-mem"] + share_qemu
    words += share_words
    disk_qemu, disk_words = disk_args(machine, disks, cpus)
    words += disk_words
    if root_disk:
        root_qemu, root_words = root_disk_args(machine, root_disk)
        disk_qemu += root_qemu
        words += root_words
    if cmdline:
        words.append(cmdline)
    args = [
        "qemu-system-x86_64",
        "-M", MACHINE_ARGS[machine],
        "-accel", accel,
        "-cpu", "max" if accel == "tcg" else "host",
        "-m", parse_mem(mem),
        "-smp", str(cpus),
        "-nodefaults", "-no-user-config", "-display", "none",
        *(stdio.qemu_args() if stdio else ["-serial", "stdio"]),
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-no-reboot",
        "-kernel", str(kernel),
        "-append", " ".join(words),
    ]
    if accel == "tcg":
        # One TCG thread per vCPU; the default on x86 hosts, stated for clarity.
        args[args.index("-accel") + 1] = "tcg,thread=multi" if int(cpus) > 1 else "tcg"
    if initrd:
        args += ["-initrd", str(initrd)]
    args += net_args(machine, net, publish, cpus, net_multi_queue)
    args += share_qemu
    args += disk_qemu
    if status_file:
        # The kernel writes its full exit status (0..255) here as text.
        args += ["-chardev", f"file,id=capsule-status,path={status_file}",
                 "-device", "isa-debugcon,iobase=0x402,chardev=capsule-status"]
    args += list(extra)
    return args


def decode_status(rc, status_file=None):
    """Returns (guest_status, problem): problem is None when the guest ended
    the VM itself. The status file, when given, has the full status."""
    if status_file and rc > 0 and rc & 1 and rc >= 3:
        try:
            with open(status_file) as f:
                text = f.read().strip().splitlines()
            if text and text[-1].isdigit():
                return int(text[-1]), None
        except OSError:
            pass
    if rc == 0:
        return None, "the VM reset without an exit status (triple fault?)"
    if rc > 0 and rc & 1 and rc >= 3:
        return (rc >> 1) - 1, None
    if rc < 0:
        return None, f"QEMU was killed by signal {-rc}"
    return None, f"QEMU failed (exit status {rc}) before the guest powered off"
