#!/usr/bin/env python3
"""guest.cli.memcached: Debian's memcached in the VM (modules/memcached,
`capsule run --module memcached -p PORT:11211 /usr/bin/memcached ... -A`:
the module's image, its arguments plus -A so that "shutdown" is allowed) answering a host client: a Python socket
speaking memcached's text protocol.

The same exchange goes to a memcached on the host (127.0.0.1, a free port)
and to the VM, and the replies must be equal byte for byte: set/get,
add/replace on present and missing keys, append/prepend, incr/decr
(with wrap at 0 and a non-numeric value's CLIENT_ERROR), gets/cas (a
stale cas is EXISTS), delete, a multi-key get, flags, a 512 KiB value, a
value over the 1 MiB item limit (SERVER_ERROR), an unknown command (ERROR);
then 200 set/get pairs from 2 connections at once. Then "shutdown": the
server ends by itself and the VM with memcached's status, the host's.

Exit 77 (skip) when the host lacks memcached.
"""
import concurrent.futures
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from server_vm import ServerVm, free_port, report  # noqa: E402

MEMCACHED = "/usr/bin/memcached"
ARGS = ["-U", "0", "-m", "64", "-A"]


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""

    def close(self):
        self.s.close()

    def _fill(self):
        d = self.s.recv(1 << 16)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def line(self):
        for _ in range(100000):
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln, self.buf = self.buf[:i], self.buf[i + 2:]
                return ln
            self._fill()
        raise EOFError("no line")

    def exact(self, n):
        for _ in range(100000):
            if len(self.buf) >= n:
                d, self.buf = self.buf[:n], self.buf[n:]
                return d
            self._fill()
        raise EOFError("short")

    def cmd(self, text, data=None):
        """One command; its whole reply (a get's VALUE blocks up to END)."""
        msg = text.encode() + b"\r\n" + (data + b"\r\n" if data is not None else b"")
        self.s.sendall(msg)
        first = self.line()
        if not (text.startswith("get ") or text.startswith("gets ")):
            return first
        out = [first]
        ln = first
        for _ in range(1000):
            if ln == b"END" or not ln.startswith(b"VALUE "):
                return b"\n".join(out)
            n = int(ln.split()[3])
            out.append(self.exact(n + 2))
            ln = self.line()
            out.append(ln)
        return b"\n".join(out)


def ready(port):
    c = Conn(port)
    try:
        c.s.settimeout(5)
        return c.cmd("version").startswith(b"VERSION ")
    finally:
        c.close()


def exchange(port, big):
    c = Conn(port)
    out = []
    try:
        def run(text, data=None):
            out.append((text, c.cmd(text, data)))
        run("set a 5 0 5", b"hello")
        run("get a")
        run("add a 0 0 1", b"x")           # NOT_STORED: present
        run("add b 0 0 3", b"bee")
        run("replace c 0 0 1", b"x")       # NOT_STORED: missing
        run("replace b 7 0 4", b"BEES")
        run("append a 0 0 6", b" world")
        run("prepend a 0 0 2", b">>")
        run("get a b c")
        run("set n 0 0 2", b"10")
        run("incr n 32")
        run("decr n 100")                  # decr stops at 0
        run("incr n 18446744073709551615")  # wraps at 2^64
        run("incr a 1")                    # CLIENT_ERROR non-numeric
        run("incr missing 1")              # NOT_FOUND
        gets = c.cmd("gets b")
        out.append(("gets b (shape)", b" ".join(gets.split(b"\n")[0].split()[:4])))
        cas = gets.split(b"\n")[0].split()[4].decode()
        run(f"cas b 0 0 3 {cas}", b"new")
        run(f"cas b 0 0 3 {cas}", b"old")  # EXISTS: the cas unique moved on
        run("cas zz 0 0 1 1", b"z")        # NOT_FOUND
        run("get b")
        run(f"set big 1 0 {len(big)}", big)
        got = c.cmd("get big")
        out.append(("get big", got == b"VALUE big 1 %d\n" % len(big) + big + b"\r\n\nEND"))
        run(f"set huge 0 0 {(1 << 20) + 1}", b"h" * ((1 << 20) + 1))  # SERVER_ERROR object too large
        run("get huge")
        run("delete b")
        run("delete b")                    # NOT_FOUND
        run("get b")
        run("bogus command")               # ERROR
        run("touch a 100")
        run("flush_all")
        run("get a")
    finally:
        c.close()
    return out


def load(port, worker):
    c = Conn(port)
    bad = 0
    try:
        for i in range(100):
            v = f"{worker}-{i}-" .encode() + bytes([65 + i % 26]) * (i * 37 % 3000)
            if c.cmd(f"set k{worker}_{i} {i} 0 {len(v)}", v) != b"STORED":
                bad += 1
            if c.cmd(f"get k{worker}_{i}") != b"VALUE k%d_%d %d %d\n" % (worker, i, i, len(v)) + v + b"\r\n\nEND":
                bad += 1
    finally:
        c.close()
    return bad


def shutdown(port):
    c = Conn(port)
    try:
        c.s.sendall(b"shutdown\r\n")
        try:
            return c.s.recv(100)
        except OSError:
            return b""
    finally:
        c.close()


def main():
    if not os.path.exists(MEMCACHED):
        print("SKIP: the host lacks memcached")
        return 77
    problems = []
    big = os.urandom(512 << 10)
    ref_port = free_port()
    ref = subprocess.Popen([MEMCACHED, "-p", str(ref_port), "-l", "127.0.0.1", *ARGS] +
                           (["-u", "root"] if os.geteuid() == 0 else []),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The module's image with its program and -A: the module's configuration
    # has no "shutdown" (a remote client should not stop a server by default).
    vm = ServerVm("memcached", 11211, extra=[MEMCACHED, "-u", "root", "-p", "11211", "-l", "0.0.0.0", *ARGS])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if ready(ref_port):
                    break
            except OSError:
                time.sleep(0.2)
        want = exchange(ref_port, big)
        shutdown(ref_port)
        try:
            ref_status = ref.wait(30)
        except subprocess.TimeoutExpired:
            ref_status = None
        if not vm.start(ready):
            problems.append("memcached in the VM never answered version")
            return report("memcached", problems, vm)
        got = exchange(vm.port, big)
        for (name, w), (_, g) in zip(want, got):
            if w != g:
                problems.append(f"{name}: the VM answered {g!r}, the host's server {w!r}")
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            bad = sum(ex.map(lambda w: load(vm.port, w), range(2)))
        if bad:
            problems.append(f"{bad} of 400 set/get replies under 2 connections were wrong")
        shutdown(vm.port)
        status = vm.wait()
        if status != ref_status:
            problems.append(f"after shutdown the VM ended with {status}, the host's memcached with "
                            f"{ref_status} (None: did not end)")
    finally:
        vm.stop()
        if ref.poll() is None:
            ref.kill()
            ref.wait()
    return report("memcached", problems, vm)


if __name__ == "__main__":
    sys.exit(main())
