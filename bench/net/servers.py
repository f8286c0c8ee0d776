"""bench/net: real servers in the VM, Capsule against the Linux guest.

Capsule runs the bundled module (`capsule run --module redis` or `nginx`);
the Linux guest runs the very same file tree: the CLI's own packing of the
module (capsule_cli.bundle.make_plan) is written as the Linux guest's
initramfs, with net_bench as /init (it loads the virtio-net modules, sets
eth0 to 10.0.2.15/24, mounts /proc, /dev and /tmp, then runs the module's
program with its argv and environment: net_bench.c, --exec). Same QEMU,
microvm, TCG, -m, one vCPU and netdev as bench/net/run.py (user networking
with the server's port forwarded from 127.0.0.1, or a tap in a namespace).

The host drives them with Debian's own clients:
  redis   redis-benchmark -t set,get -n N -c C, with and without -P 16:
          requests per second of each test
  nginx   wrk -t1 -c C -d D --latency against a 64 KiB file and the index
          page: requests per second, latency p50 and p99
nginx serves with access_log off in both (the console would otherwise be
what is measured: one line per request on a serial port).

Every load is bounded: redis-benchmark by its request count and a timeout,
wrk by its duration; traffic goes only to QEMU's forwarder on 127.0.0.1 or
to the guest on the benchmark's own tap (run.py --net tap).
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parents[1]
sys.path.insert(0, str(ROOT / "tools" / "capsule"))
from capsule_cli import bundle, cpio, deps  # noqa: E402

WORK = ROOT / "build" / "bench" / "net"
READY_TIMEOUT = 180.0  # seconds until the server answers
LOAD_TIMEOUT = 300.0   # seconds for one client run

# nginx for the benchmark: the module's configuration without the access
# log (modules/nginx/nginx.conf writes one console line per request).
NGINX_CONF = """daemon off;
user root;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    server {
        listen 80 default_server;
        root /var/www/html;
        location / { try_files $uri $uri/ =404; }
    }
}
"""
FILE_64K = bytes((i * 131 + 7) & 0xFF for i in range(65536))


class ServerError(Exception):
    pass


class Server:
    """One module: its guest port, how to tell it is up, how to load it."""

    def __init__(self, name, module, port, packages):
        self.name, self.module, self.port, self.packages = name, module, port, packages

    def tweak(self, tree):
        pass


def _redis_ready(host, port):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def _http_ready(host, port):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"GET /f64k HTTP/1.0\r\n\r\n")
        head = s.recv(64)
        return head.startswith(b"HTTP/1.1 200")


class Redis(Server):
    def __init__(self):
        super().__init__("redis", "redis", 6379, ["redis-tools"])
        self.ready = _redis_ready

    def figures(self, a):
        return [(f"redis_{t}{'_p16' if p else ''}_rps", f"redis-benchmark {t.upper()}{' -P 16' if p else ''}",
                 "req/s", True) for p in (False, True) for t in ("set", "get")]

    def load(self, host, port, a):
        out = {}
        for pipe in (False, True):
            cmd = ["redis-benchmark", "-h", host, "-p", str(port), "-t", "set,get",
                   "-n", str(a.redis_requests * (4 if pipe else 1)), "-c", str(a.clients), "-d", "64", "--csv"]
            if pipe:
                cmd += ["-P", "16"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=LOAD_TIMEOUT)
            if r.returncode != 0:
                raise ServerError(f"redis-benchmark failed ({r.returncode}): {r.stderr.strip()[-400:]}")
            for line in r.stdout.splitlines():
                m = re.match(r'"(SET|GET)","([0-9.]+)"', line)
                if m:
                    out[f"redis_{m.group(1).lower()}{'_p16' if pipe else ''}_rps"] = float(m.group(2))
        return out


class Nginx(Server):
    def __init__(self):
        super().__init__("nginx", "nginx", 80, ["nginx-light", "wrk"])
        self.ready = _http_ready

    def tweak(self, tree):
        tree.add_bytes("/etc/nginx/nginx.conf", NGINX_CONF.encode())
        tree.add_bytes("/var/www/html/f64k", FILE_64K)

    def figures(self, a):
        out = []
        for page in ("index", "64k"):
            out += [(f"nginx_{page}_rps", f"nginx {page} page, wrk -c {a.clients}", "req/s", True),
                    (f"nginx_{page}_p50_ms", f"nginx {page} page, latency p50", "ms", False),
                    (f"nginx_{page}_p99_ms", f"nginx {page} page, latency p99", "ms", False)]
        return out

    def load(self, host, port, a):
        out = {}
        for page, path in (("index", "/"), ("64k", "/f64k")):
            cmd = ["wrk", "-t1", f"-c{a.clients}", f"-d{a.seconds}s", "--latency", "--timeout", "10s",
                   f"http://{host}:{port}{path}"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=LOAD_TIMEOUT)
            if r.returncode != 0:
                raise ServerError(f"wrk failed ({r.returncode}): {r.stderr.strip()[-400:]}")
            rps = re.search(r"Requests/sec:\s*([0-9.]+)", r.stdout)
            if not rps or re.search(r"Non-2xx|Socket errors", r.stdout):
                raise ServerError("wrk: errors or no rate:\n" + r.stdout[-600:])
            out[f"nginx_{page}_rps"] = float(rps.group(1))
            for pct, key in (("50", "p50"), ("99", "p99")):
                m = re.search(rf"^\s*{pct}%\s+([0-9.]+)(us|ms|s)\s*$", r.stdout, re.M)
                if not m:
                    raise ServerError(f"wrk: no {pct}% latency:\n" + r.stdout[-600:])
                v = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
                out[f"nginx_{page}_{key}_ms"] = v
        return out


SERVERS = {"redis": Redis, "nginx": Nginx}


def plan_for(server):
    """The module's file tree as the CLI packs it, with the benchmark's
    changes; the plan's argv and environment run it."""
    try:
        plan = bundle.make_plan(None, [], module_specs=[server.module])
    except bundle.BadInput as e:
        raise ServerError(f"module {server.module}: {e}")
    server.tweak(plan.tree)
    return plan


def linux_initramfs(server, plan, init_binary, modules, out):
    tree = plan.tree
    tree.add_host(str(init_binary), "/init")
    tree.add_dir("/m")
    for guest, host in modules:
        tree.add_host(host, guest)
    env = [f"{k}={v}" for k, v in plan.env.items()]
    tree.add_bytes("/exec", b"".join(w.encode() + b"\0" for w in env + plan.argv))
    tree.add_dir("/dev")
    entries = tree.entries()
    entries.append(cpio.Entry("dev/console", 0o020600, rdev=(5, 1)))
    cpio.write_file(str(out), entries)


def capsule_image_args(server):
    """Capsule boots the same tweaked tree: the tweaks travel as --add of
    files written under build/bench/net/<name>/ (the module packs the rest)."""
    d = WORK / server.name
    d.mkdir(parents=True, exist_ok=True)
    adds = []
    if server.name == "nginx":
        (d / "nginx.conf").write_text(NGINX_CONF)
        (d / "f64k").write_bytes(FILE_64K)
        adds = [f"--add={d / 'nginx.conf'}:/etc/nginx/nginx.conf", f"--add={d / 'f64k'}:/var/www/html/f64k"]
    return adds


def run_server(name, cmd, host, port, server, a):
    """Boots the guest, waits until the server answers, loads it, kills
    the VM. Returns the figures."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    lines = []
    th = threading.Thread(target=lambda: [lines.append(raw.decode(errors="replace").rstrip())
                                          for raw in iter(p.stdout.readline, b"")], daemon=True)
    th.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if p.poll() is not None:
                raise ServerError(f"{name}: the VM exited ({p.returncode}):\n" + "\n".join(lines[-20:]))
            try:
                if server.ready(host, port):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"{name}: {server.name} did not answer in {READY_TIMEOUT:.0f} s:\n"
                                  + "\n".join(lines[-20:]))
            time.sleep(0.5)
        try:
            return server.load(host, port, a)
        except (ServerError, subprocess.TimeoutExpired) as e:
            raise ServerError(f"{name}: {e}\n" + "\n".join(lines[-20:]))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def ensure_clients(names):
    pkgs = []
    for n in names:
        pkgs += SERVERS[n]().packages
    deps.ensure(pkgs)
