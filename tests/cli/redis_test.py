#!/usr/bin/env python3
"""guest.cli.redis: Debian's redis-server in the VM (modules/redis, `capsule
run --module redis -p PORT:6379`) answering the host's redis-cli and
redis-benchmark through QEMU's user network.

The same redis-cli commands go to a redis-server on the host (127.0.0.1, a
free port, no persistence) and to the VM: the replies must be equal (SET,
GET, APPEND, INCRBY, a 200 KB value byte-exact, lists, hashes, EXPIRE/TTL,
PERSIST, DEL, an unknown command's error and a wrong-type error). `redis-benchmark
-q -n 2000 -c 2 -t set,get` (2 clients: QEMU's hostfwd listens with a
backlog of 1, docs/net.md) must report both tests and leave the benchmark's
key with its 3-byte value, and INFO must count its commands. Then `redis-cli SHUTDOWN NOSAVE`: the server ends by
itself and the VM with status 0. The speed is not checked.

Exit 77 (skip) when the host lacks redis-tools.
"""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from server_vm import ServerVm, free_port, report  # noqa: E402

SERVER = "/usr/bin/redis-check-rdb"   # redis-server's binary (redis-tools)
CLI_TIMEOUT = 120


def ping(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64).startswith(b"+PONG")


def cli(port, *args, stdin=None):
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args], input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=CLI_TIMEOUT)
    return r.returncode, r.stdout


def session(port, big):
    """The commands, each with its reply; the same on both servers."""
    cases = [
        ("SET", "greeting", "hello capsule"), ("GET", "greeting"),
        ("APPEND", "greeting", "!"), ("GET", "greeting"), ("STRLEN", "greeting"),
        ("SET", "n", "40"), ("INCRBY", "n", "2"), ("INCR", "n"), ("GET", "n"),
        ("RPUSH", "l", "a", "b", "c"), ("LRANGE", "l", "0", "-1"), ("LPOP", "l"),
        ("HSET", "h", "f1", "v1", "f2", "v2"), ("HGET", "h", "f2"), ("HLEN", "h"),
        ("EXPIRE", "greeting", "1000"), ("PERSIST", "greeting"), ("TTL", "greeting"),
        ("GET", "l"),                      # WRONGTYPE
        ("NOSUCHCOMMAND", "x"),            # ERR unknown command
        ("EXISTS", "greeting", "n", "missing"), ("DEL", "n", "missing"), ("GET", "n"),
    ]
    out = []
    for c in cases:
        out.append((" ".join(c), cli(port, *c)))
    # A 200 KB value from stdin (-x), read back whole.
    out.append(("SET big (stdin)", cli(port, "-x", "SET", "big", stdin=big)))
    st, got = cli(port, "--no-raw", "STRLEN", "big")
    out.append(("STRLEN big", (st, got)))
    st, got = cli(port, "GET", "big")
    out.append(("GET big sha256", (st, hashlib.sha256(got).hexdigest().encode())))
    return out



def main():
    if not (shutil.which("redis-cli") and shutil.which("redis-benchmark") and os.path.exists(SERVER)):
        print("SKIP: the host lacks redis-tools (redis-cli, redis-benchmark, redis-server's binary)")
        return 77
    problems = []
    big = os.urandom(150_000).hex().encode()[:200_000]   # printable, no newline
    ref_port = free_port()
    # argv[0] decides what the binary is: start it as redis-server.
    ref = subprocess.Popen(["redis-server", "--port", str(ref_port), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--daemonize", "no", "--dir", "/tmp"],
                           executable=SERVER, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    vm = ServerVm("redis", 6379)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if ping(ref_port):
                    break
            except OSError:
                time.sleep(0.2)
        want = session(ref_port, big)
        if not vm.start(ping):
            problems.append("redis-server in the VM never answered PING")
            return report("redis", problems, vm)
        got = session(vm.port, big)
        for (name, w), (_, g) in zip(want, got):
            if w != g:
                problems.append(f"{name}: the VM answered {g!r}, the host's server {w!r}")
        # The benchmark's own check: both tests ran to the end.
        r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(vm.port), "-q", "-n", "2000",
                            "-c", "2", "-t", "set,get"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=CLI_TIMEOUT)
        text = r.stdout.decode(errors="replace").replace("\r", "\n")
        print("redis-benchmark:", " | ".join(l.strip() for l in text.splitlines() if "per second" in l))
        for t in ("SET", "GET"):
            if r.returncode != 0 or not re.search(rf"(?m)^{t}: [0-9.]+ requests per second", text):
                problems.append(f"redis-benchmark: no {t} result (status {r.returncode}): {text[-300:]!r}")
        # redis-benchmark's SET writes 3 random bytes (-d 3) at key:__rand_int__.
        st, val = cli(vm.port, "STRLEN", "key:__rand_int__")
        if (st, val) != (0, b"3\n"):
            problems.append(f"after redis-benchmark STRLEN key:__rand_int__ is {val!r} (status {st})")
        st, info = cli(vm.port, "INFO", "stats")
        m = re.search(rb"total_commands_processed:(\d+)", info)
        if not m or int(m.group(1)) < 4000:
            problems.append(f"INFO stats counts {m.group(1) if m else None} commands, want >= 4000")
        st, out = cli(vm.port, "SHUTDOWN", "NOSAVE")
        status = vm.wait()
        if status != 0:
            problems.append(f"after SHUTDOWN NOSAVE the VM ended with {status}, want 0 "
                            "(None: it did not end)")
        err = vm.err.decode(errors="replace")
        for line in ("Ready to accept connections", "Redis is now ready to exit"):
            if line not in err + vm.out.decode(errors="replace"):
                problems.append(f"the server's log lacks {line!r}")
    finally:
        vm.stop()
        ref.terminate()
        try:
            ref.wait(30)
        except subprocess.TimeoutExpired:
            ref.kill()
    return report("redis", problems, vm)


if __name__ == "__main__":
    sys.exit(main())
