#!/usr/bin/env python3
"""bench/net: TCP through the VM's network device, Capsule against a Linux guest.

One static server, bench/net/net_bench.c (built here with `gcc -static -O2`
into build/bench/net/), runs as the whole guest: in Capsule through
`./capsule run -p PORT:5001`, in Linux as /init of an initramfs next to
bench/boot's vmlinux (Debian's cloud kernel, PVH), which first loads the
kernel's own virtio and virtio-net modules (the cloud kernel builds them as
modules) and gives eth0 10.0.2.15/24. Both on microvm, TCG `-cpu max`, the
same -m and -smp, the same netdev: QEMU user networking with the port
forwarded from the host's 127.0.0.1. The host (this script) then measures,
one connection at a time:

  upload_mb_s      host -> guest, one stream of --mbytes MiB (the guest
                   reads it and answers the count)
  download_mb_s    guest -> host, one stream of --mbytes MiB
  rtt_p50_us       1-byte ping-pong on one connection (TCP_NODELAY both
  rtt_p99_us       ends), --pings round trips: median and 99th percentile
  connects_per_s   connect, one byte, the guest closes: --connects times

Both sides go through the same QEMU slirp stack on the host, which bounds
every figure; what differs is the guest kernel. Runs are interleaved
(A B A B ...) after one untimed run of each; it reports medians, the ratio
Capsule / Linux and which is faster, and writes build/bench/net/result.json.

Usage: python3 bench/net/run.py [--runs N] [--mbytes M] [--pings N]
       [--connects N] [--json FILE]   (or `./capsule bench net ...`).
Traffic stays on this machine: 127.0.0.1 to QEMU's forwarder, every loop
bounded in count and by a timeout.
"""
import argparse
import datetime
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import side_by_side  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import servers  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parents[0].parent
WORK = ROOT / "build" / "bench" / "net"
BINARY = WORK / "net_bench"
MEM = "256M"
# The cloud kernel's modules for a virtio-mmio NIC, each after what it needs.
LINUX_MODULES = ("virtio_ring", "virtio", "virtio_mmio", "failover", "net_failover", "virtio_net")
BOOT_TIMEOUT = 120.0   # seconds until the server listens
IO_TIMEOUT = 60.0      # seconds per socket operation

FIGURES = [
    ("upload_mb_s", "upload, one stream (host -> guest)", "MB/s", True),
    ("download_mb_s", "download, one stream (guest -> host)", "MB/s", True),
    ("rtt_p50_us", "1-byte round trip, median", "us", False),
    ("rtt_p99_us", "1-byte round trip, 99th percentile", "us", False),
    ("connects_per_s", "connections set up and closed", "1/s", True),
]


class BenchError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build():
    WORK.mkdir(parents=True, exist_ok=True)
    src = BENCH / "net_bench.c"
    if BINARY.exists() and all(BINARY.stat().st_mtime >= p.stat().st_mtime
                               for p in (src, BENCH.parent / "linux_init.h")):
        return
    log(f"building {BINARY.relative_to(ROOT)} (gcc -static -O2)")
    r = subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", str(BINARY), str(src)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError("building net_bench failed:\n" + r.stderr.strip())


def linux_modules(vmlinuz_name):
    version = vmlinuz_name[len("vmlinuz-"):]
    out = []
    for m in LINUX_MODULES:
        r = subprocess.run(["modinfo", "-k", version, "-n", m], capture_output=True, text=True)
        path = r.stdout.strip()
        if r.returncode != 0 or not path.endswith(".ko"):
            raise BenchError(f"module {m} of {version} not found as an uncompressed .ko "
                             f"(modinfo: {r.stderr.strip() or path})")
        out.append((f"/m/{m}.ko", path))
    return out


def prepare_linux(boot):
    boot.WORK.mkdir(parents=True, exist_ok=True)
    vmlinuz = boot.find_vmlinuz()
    vmlinux = boot.WORK / ("vmlinux-" + vmlinuz.name[len("vmlinuz-"):])
    if boot.stale(vmlinux, vmlinuz):
        log(f"extracting the ELF vmlinux from {vmlinuz}")
        boot.extract_vmlinux(vmlinuz, vmlinux)
    initramfs = WORK / "initramfs.cpio"
    mods = linux_modules(vmlinuz.name)
    if boot.stale(initramfs, BINARY, Path(__file__), *(h for _, h in mods)):
        side_by_side.write_initramfs_with(boot, BINARY, mods, initramfs)
    return vmlinux, initramfs, vmlinuz.name


class UserNet:
    """QEMU user networking: the guest's port forwarded from 127.0.0.1."""
    name = "user"
    linux_init_args = ()

    def endpoint(self, guest_port):
        return "127.0.0.1", free_port()

    def capsule_args(self, host_port, guest_port):
        return ["-p", f"{host_port}:{guest_port}"]

    def qemu_args(self, host_port, guest_port):
        return ["-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{host_port}-:{guest_port}",
                "-device", "virtio-net-device,netdev=n0"]


class TapNet:
    """A tap in a network namespace this script made and runs in (the
    guest 10.0.3.2/24, the host's end 10.0.3.1): no slirp in the way."""
    name = "tap"
    TAP, HOST, GUEST = "cbtap0", "10.0.3.1", "10.0.3.2"
    linux_init_args = (f"--addr={GUEST}",)

    def endpoint(self, guest_port):
        return self.GUEST, guest_port

    def capsule_args(self, host_port, guest_port):
        return ["--net", f"tap:{self.TAP}", "--ip", f"{self.GUEST}/24", "--gw", self.HOST]

    def qemu_args(self, host_port, guest_port):
        # The tap is multi-queue (setup): QEMU opens it only with queues >= 2;
        # the device has no mq, so Linux uses one queue pair as before.
        return ["-netdev", f"tap,id=n0,ifname={self.TAP},script=no,downscript=no,queues=2",
                "-device", "virtio-net-device,netdev=n0"]

    @classmethod
    def setup(cls):
        for c in (["ip", "link", "set", "lo", "up"], ["ip", "tuntap", "add", "dev", cls.TAP, "mode", "tap", "multi_queue"],
                  ["ip", "addr", "add", f"{cls.HOST}/24", "dev", cls.TAP], ["ip", "link", "set", cls.TAP, "up"]):
            r = subprocess.run(c, capture_output=True, text=True)
            if r.returncode != 0:
                raise BenchError(f"--net tap: {' '.join(c)}: {r.stderr.strip()}")


def linux_command(boot, vmlinux, initramfs, net, host_port, guest_port=5001, exec_server=False):
    cmd = boot.linux_command(vmlinux, initramfs)
    cmd[cmd.index("-m") + 1] = MEM
    i = cmd.index("-append") + 1
    cmd[i] += (" tsc=reliable -- --linux " + " ".join([*net.linux_init_args, *LINUX_MODULES])
               + (" --exec" if exec_server else ""))
    return cmd + net.qemu_args(host_port, guest_port)


def capsule_command(net, host_port, guest_port=5001, what=None):
    return [str(ROOT / "capsule"), "run", "--accel", "tcg", "--machine", "microvm", "--mem", MEM,
            "--cpus", "1", *net.capsule_args(host_port, guest_port),
            *(what or [str(BINARY.relative_to(ROOT))])]


def server_runs(boot, vmlinux, net, a, runs):
    """Each server of --servers, Capsule and Linux interleaved as for
    net_bench; their figures join `runs`. Returns the figure list."""
    figures = []
    names = [n for n in a.servers.split(",") if n and n != "none"]
    for n in names:
        if n not in servers.SERVERS:
            raise BenchError(f"--servers: unknown server '{n}' (known: {', '.join(servers.SERVERS)})")
    servers.ensure_clients(names)
    kmods = linux_modules(boot.find_vmlinuz().name)
    for n in names:
        srv = servers.SERVERS[n]()
        figures += srv.figures(a)
        initramfs = WORK / f"initramfs-{n}.cpio"
        servers.linux_initramfs(srv, servers.plan_for(srv), BINARY, kmods, initramfs)
        adds = servers.capsule_image_args(srv)
        for r in range(a.runs + 1):
            for name in ("capsule", "linux"):
                host, port = net.endpoint(srv.port)
                if name == "capsule":
                    cmd = capsule_command(net, port, srv.port, [*adds, "--module", srv.module])
                else:
                    cmd = linux_command(boot, vmlinux, initramfs, net, port, srv.port, exec_server=True)
                try:
                    res = servers.run_server(name, cmd, host, port, srv, a)
                except servers.ServerError as e:
                    raise BenchError(str(e))
                if r == 0:
                    continue
                runs[name][r - 1].update(res)
                log(f"run {r} {name} {n}: " + ", ".join(f"{k} {v:.1f}" for k, v in res.items()))
    return figures


def connect(host, port, cmd, payload=b""):
    s = socket.create_connection((host, port), timeout=IO_TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(cmd + payload)
    return s


def recv_exact(s, n):
    got = bytearray()
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            raise BenchError(f"the guest closed after {len(got)} of {n} bytes")
        got += b
    return bytes(got)


def measure(host, port, a):
    n = a.mbytes << 20
    chunk = bytes(range(256)) * 256
    res = {}
    t0 = time.perf_counter()
    with connect(host, port, b"U", struct.pack("<Q", n)) as s:
        left = n
        while left:
            k = min(left, len(chunk))
            s.sendall(chunk[:k])
            left -= k
        got = struct.unpack("<Q", recv_exact(s, 8))[0]
    if got != n:
        raise BenchError(f"upload: the guest read {got} of {n} bytes")
    res["upload_mb_s"] = n / 1e6 / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    got = 0
    with connect(host, port, b"D", struct.pack("<Q", n)) as s:
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            got += len(b)
    if got != n:
        raise BenchError(f"download: {got} of {n} bytes")
    res["download_mb_s"] = n / 1e6 / (time.perf_counter() - t0)

    rtts = []
    with connect(host, port, b"P") as s:
        for i in range(a.pings):
            t = time.perf_counter()
            s.sendall(b"x")
            if recv_exact(s, 1) != b"x":
                raise BenchError("ping: a different byte came back")
            rtts.append((time.perf_counter() - t) * 1e6)
    rtts.sort()
    res["rtt_p50_us"] = rtts[len(rtts) // 2]
    res["rtt_p99_us"] = rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]

    t0 = time.perf_counter()
    for _ in range(a.connects):
        with connect(host, port, b"C") as s:
            if s.recv(1) != b"":
                raise BenchError("connect: the guest sent bytes instead of closing")
    res["connects_per_s"] = a.connects / (time.perf_counter() - t0)
    return res


def one_run(name, cmd, host, port, a):
    """Boots the guest, waits for its listening line, measures, asks it to
    end. Returns the figures."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    lines, ready = [], threading.Event()

    def reader():
        for raw in iter(p.stdout.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            if "net_bench: listening" in line:
                ready.set()
        ready.set()
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    try:
        if not ready.wait(BOOT_TIMEOUT) or p.poll() is not None:
            raise BenchError(f"{name}: the server did not start:\n" + "\n".join(lines[-20:]))
        res = measure(host, port, a)
        try:
            connect(host, port, b"Q").close()
        except OSError:
            pass
        p.wait(timeout=60)
        return res
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BenchError(f"{name}: {type(e).__name__}: {e}\n" + "\n".join(lines[-20:]))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


NETNS_ENV = "CAPSULE_BENCH_NETNS"


def in_namespace(argv):
    """--net tap: runs this script again inside a network namespace made
    for it (the tap, both VMs and the clients live there) and removes the
    namespace after."""
    ns = f"capbench{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"--net tap: cannot make a network namespace: {r.stderr.strip()}")
    try:
        return subprocess.run(["ip", "netns", "exec", ns, sys.executable, str(Path(__file__).resolve()), *argv],
                              env=dict(os.environ, **{NETNS_ENV: ns})).returncode
    finally:
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def main(argv=None):
    ap = argparse.ArgumentParser(description="TCP through the NIC: Capsule against a Linux guest on the same QEMU.")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mbytes", type=int, default=16)
    ap.add_argument("--pings", type=int, default=1000)
    ap.add_argument("--connects", type=int, default=100)
    ap.add_argument("--net", choices=("user", "tap"), default="user",
                    help="user: QEMU user networking (the default); tap: a tap in a network namespace "
                         "made for the run, so slirp is not in the way")
    ap.add_argument("--servers", default="redis,nginx",
                    help="real servers to measure after net_bench (comma list of redis, nginx; or none)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent connections of redis-benchmark and wrk")
    ap.add_argument("--redis-requests", type=int, default=4000, help="redis-benchmark -n per test (x4 with -P 16)")
    ap.add_argument("--seconds", type=int, default=5, help="wrk's duration per page")
    ap.add_argument("--json", default=str(WORK / "result.json"), help="where the results go ('' for nowhere)")
    a = ap.parse_args(argv)
    try:
        boot = side_by_side.boot_module()
        boot.ensure_packages()
        build()
        subprocess.run([str(ROOT / "capsule"), "build"], cwd=ROOT, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        vmlinux, initramfs, kname = prepare_linux(boot)
        servers.ensure_clients([n for n in a.servers.split(",") if n in servers.SERVERS])
        if a.net == "tap" and not os.environ.get(NETNS_ENV):
            return in_namespace(sys.argv[1:] if argv is None else argv)
        net = TapNet() if a.net == "tap" else UserNet()
        if a.net == "tap":
            TapNet.setup()
        runs = {"capsule": [], "linux": []}
        for r in range(a.runs + 1):
            for name in ("capsule", "linux"):
                host, port = net.endpoint(5001)
                cmd = (capsule_command(net, port) if name == "capsule"
                       else linux_command(boot, vmlinux, initramfs, net, port))
                res = one_run(name, cmd, host, port, a)
                if r == 0:
                    continue  # untimed: caches, page cache, the first slirp set-up
                runs[name].append(res)
                log(f"run {r} {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in res.items()))
        figures = FIGURES + server_runs(boot, vmlinux, net, a, runs)
    except side_by_side.BenchError as e:
        sys.exit(f"bench net: {e}")
    except BenchError as e:
        sys.exit(f"bench net: {e}")
    out = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "linux_kernel": kname,
           "runs": a.runs, "mbytes": a.mbytes, "pings": a.pings, "connects": a.connects,
           "mem": MEM, "net": a.net, "servers": a.servers, "clients": a.clients, "figures": {}}
    netdesc = "QEMU user networking" if a.net == "user" else "a tap in a network namespace"
    log(f"\nbench net: {a.runs} interleaved runs, medians (microvm, TCG, -m {MEM}, 1 vCPU, "
        f"{netdesc}; Linux {kname})")
    log(f"{'figure':<40} {'Capsule':>10} {'Linux':>10} {'C/L':>7}  faster")
    for key, label, unit, higher in figures:
        c = statistics.median(x[key] for x in runs["capsule"])
        li = statistics.median(x[key] for x in runs["linux"])
        ratio = c / li if li else float("nan")
        speed = ratio if higher else (1 / ratio if ratio else float("nan"))
        who = "Capsule" if speed > 1 else "Linux"
        log(f"{label + ' (' + unit + ')':<40} {c:>10.1f} {li:>10.1f} {ratio:>7.2f}  {who} {max(speed, 1 / speed):.2f}x")
        out["figures"][key] = {"capsule": c, "linux": li, "ratio": ratio, "capsule_speed": speed,
                               "capsule_runs": [x[key] for x in runs["capsule"]],
                               "linux_runs": [x[key] for x in runs["linux"]]}
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=1))
        log(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
