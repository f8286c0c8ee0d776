#!/usr/bin/env python3
"""Dynamically linked programs in the VM, compared with the host.

The program, its PT_INTERP loader and the libraries `ldd` lists (plus any
data files a case needs) are packed into an initrd at their host paths;
the program runs in a fresh VM and its stdout and exit status must equal
those of the same command run on the host (or, for --program cases, what
--expect says). A program that is not installed on the host is skipped
(exit 77, ctest's SKIP_RETURN_CODE).

Usage:
  dynamic_test.py --kernel build/capsule.elf --case NAME
  dynamic_test.py --kernel build/capsule.elf --program PATH --args A B
                  [--expect-status N] [--expect REGEX]... [--link PATH]
                  [--no-libs [--fake-interp FILE]]
CAPSULE_DYN_LOG=warn shows the kernel's warnings (unimplemented syscalls).
CAPSULE_DYN_EXTRA="--hung-task=5 " puts kernel options before them (a hang: every blocked thread).
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools", "capsule"))
from capsule_cli import cli, cpio, qemu  # noqa: E402

SKIP = 77
# The guest's and the host's run of a case see the same environment: this
# HOME, the host's PATH, no locale variables (the C locale).
HOME = "/"

NUMBERS = b"".join(b"%d %d\n" % (i, (i * 7919) % 101) for i in range(300))
FRUITS = b"banana\napple\ncherry\napple\nbanana\nbanana\ndate\n"
JSON = b'{"name": "capsule", "tags": ["vm", "unikernel"], "n": [3, 1, 2]}\n'
BC = b"scale=20\n4*a(1)\n2^100\nsqrt(2)\n"

PY_STDLIB = """
import json, os, math, struct, re, collections, datetime
print(json.dumps({"a": [1, 2, {"b": None}], "s": "caf\\u00e9"}, sort_keys=True))
print(sorted(os.listdir("/data/")), math.factorial(20), struct.pack("<I", 258).hex())
print(re.sub(r"(\\w+)@", r"<\\1>", "me@x you@y"), collections.Counter("banana").most_common(2))
print(datetime.date(2024, 2, 29).isoformat(), sum(int(l.split()[1]) for l in open("/data/numbers.txt")))
"""

# Sockets (docs/net.md): a socketpair of each kind, SCM_RIGHTS, SO_PEERCRED;
# and asyncio streams over an AF_UNIX server, the event loop's own
# self-pipe being a socketpair.
# TCP over the loopback interface (docs/net.md): an HTTP server in a
# thread answers urllib on 127.0.0.1 (TCPServer: HTTPServer would look up
# the host's name).
PY_HTTP_LOOPBACK = """
import threading, socketserver, http.server, urllib.request
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (self.path * 5000).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
port = srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()
for p in ("/a", "/hello/world", "/x" * 100):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, p)) as r:
        d = r.read()
        print(r.status, len(d), d[:24], d == (p * 5000).encode())
srv.shutdown()
srv.server_close()
print("done")
"""

# IPv6 (docs/net.md "IPv6"): what `python3 -m http.server --bind ::`
# serves (SimpleHTTPRequestHandler on a dual-stack [::] socket, V6ONLY 0 as
# http.server's DualStackServer sets it; TCPServer instead of HTTPServer,
# which would look up the host's name), fetched by urllib over [::1] and
# over IPv4, which the server sees v4-mapped.
PY_HTTP_V6 = """
import functools, socket, socketserver, threading, http.server, urllib.request, urllib.error
seen = []
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        seen.append(self.client_address[0])
class S(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
srv = S(("::", 0), functools.partial(H, directory="/data/"))
port = srv.server_address[1]
print(srv.socket.family == socket.AF_INET6, srv.server_address[0])
threading.Thread(target=srv.serve_forever, daemon=True).start()
for host in ("[::1]", "127.0.0.1"):
    for p in ("/numbers.txt", "/fruits.txt", "/missing"):
        try:
            with urllib.request.urlopen("http://%s:%d%s" % (host, port, p)) as r:
                d = r.read()
                print(host, p, r.status, len(d), d == open("/data/" + p[1:], "rb").read())
        except urllib.error.HTTPError as e:
            print(host, p, e.code)
print(sorted(set(seen)))
srv.shutdown()
srv.server_close()
print("done")
"""

PY_SOCKETPAIR = """
import os, socket, stat, struct
a, b = socket.socketpair()
a.sendall(b"hello " * 1000)
a.shutdown(socket.SHUT_WR)
data = b""
while True:
    d = b.recv(4096)
    if not d:
        break
    data += d
print(len(data), data[:12])
print(stat.S_ISSOCK(os.fstat(a.fileno()).st_mode), a.type == socket.SOCK_STREAM, a.family == socket.AF_UNIX)
print(a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED) == struct.pack("3i", os.getpid(), os.geteuid(), os.getegid()))
c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
c.send(b"x" * 10)
c.send(b"yy")
print(d.recv(100), d.recv(100))
r, w = os.pipe()
socket.send_fds(c, [b"fd"], [w])
msg, fds, flags, addr = socket.recv_fds(d, 10, 1)
os.write(fds[0], b"through")
print(msg, len(fds), os.read(r, 10))
"""

PY_ASYNCIO_UNIX = """
import asyncio, os
async def handle(reader, writer):
    line = await reader.readline()
    writer.write(line.upper())
    await writer.drain()
    writer.close()
async def main():
    path = "/data/asyncio.sock"
    server = await asyncio.start_unix_server(handle, path=path)
    async with server:
        got = []
        for i in range(3):
            r, w = await asyncio.open_unix_connection(path)
            w.write(b"hello %d\\n" % i)
            await w.drain()
            got.append(await r.readline())
            w.close()
            await w.wait_closed()
        print(got)
    os.unlink(path)
    print(await asyncio.wait_for(asyncio.sleep(0.01, "done"), 30))
asyncio.run(main())
"""

# Processes (docs/process.md "Fork, exit and wait"): subprocess forks (or
# vforks) and execs, the pipes between the processes, the exit status.
PY_SUBPROCESS = """
import subprocess
print(subprocess.run(["echo", "hi"], capture_output=True).stdout)
p = subprocess.Popen(["tr", "a-z", "A-Z"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(p.communicate(b"hello from a pipe")[0], p.returncode)
print(subprocess.run(["false"]).returncode, subprocess.run(["tr", "--bad-option"], capture_output=True).returncode)
"""

# os.fork + os.waitpid, a pipe between parent and child, exit statuses.
PY_FORK = """
import os
r, w = os.pipe()
parent, kids = os.getpid(), []
for i in range(3):
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, f"child {i} ppid-ok={os.getppid() == parent}\\n".encode())
        os._exit(10 + i)
    kids.append(pid)
os.close(w)
with os.fdopen(r) as f:
    print(sorted(f.read().splitlines()))
print([os.WEXITSTATUS(os.waitpid(p, 0)[1]) for p in kids])
try:
    os.waitpid(-1, 0)
except ChildProcessError as e:
    print("no more children:", e.errno)
"""

# Processes sharing memory (docs/ipc.md): multiprocessing's Pool and
# ProcessPoolExecutor fork workers that talk through pipes guarded by
# process-shared semaphores (sem_open: /dev/shm/sem.*, shared futexes);
# Queue, Lock, Value, Array, Event, Semaphore and Barrier between processes.
PY_MP_POOL = """
import multiprocessing as mp
def sq(x):
    return x * x
with mp.Pool(4) as p:
    print(p.map(sq, range(20)))
    print(sorted(p.imap_unordered(sq, range(10), chunksize=2)))
    print(p.apply_async(pow, (2, 10)).get(), p.starmap(pow, [(2, 3), (3, 2)]))
"""

PY_MP_PRIMITIVES = """
import multiprocessing as mp
def work(q, lock, val, arr, ev, i):
    ev.wait()
    for _ in range(200):
        with lock:
            val.value += 1
    arr[i] = i * i
    q.put((i, mp.current_process().name != "MainProcess"))
q, lock, ev = mp.Queue(), mp.Lock(), mp.Event()
val, arr = mp.Value("i", 0, lock=False), mp.Array("i", 4)
ps = [mp.Process(target=work, args=(q, lock, val, arr, ev, i)) for i in range(4)]
for p in ps:
    p.start()
ev.set()
res = sorted(q.get() for _ in ps)
for p in ps:
    p.join()
print(res, val.value, list(arr), [p.exitcode for p in ps])
s = mp.Semaphore(2)
print(s.acquire(), s.acquire(), s.acquire(False), s.get_value())
b = mp.Barrier(3)
ps = [mp.Process(target=b.wait) for _ in range(2)]
for p in ps:
    p.start()
print(b.wait() in (0, 1, 2))
for p in ps:
    p.join()
print([p.exitcode for p in ps])
"""

PY_PROCESS_POOL = """
import concurrent.futures as cf
def cube(x):
    return x ** 3
with cf.ProcessPoolExecutor(4) as ex:
    print(list(ex.map(cube, range(12))))
    print(ex.submit(sum, [1, 2, 3]).result(), sorted(f.result() for f in [ex.submit(cube, i) for i in range(5)]))
"""

# Pseudo-terminals (docs/pty.md): os.openpty with a window size set on the
# master, a child on the slave as its controlling terminal (os.login_tty:
# setsid, TIOCSCTTY), isatty/ttyname/tcgetpgrp/get_terminal_size there,
# SIGWINCH on a resize, a line edited by the line discipline (DEL) and its
# echo, the child's exit status, EIO on the master at the end; then
# pty.fork. Slave numbers differ between runs: names end in "N".
PY_PTY = """
import errno, fcntl, os, pty, signal, struct, sys, termios
def name(fd):
    return os.ttyname(fd).rstrip("0123456789") + "N"
def drain(fd, until=None):
    out = b""
    for _ in range(200):
        if until is not None and until in out:
            break
        try:
            b = os.read(fd, 4096)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            out += b"<EIO>"
            break
        out += b
    return out
m, s = os.openpty()
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 99, 0, 0))
print("pair", name(s), os.isatty(m), os.isatty(s), os.get_terminal_size(s), flush=True)
pid = os.fork()
if pid == 0:
    os.close(m)
    os.login_tty(s)
    print("child", os.isatty(0), name(1), os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpgrp(),
          tuple(os.get_terminal_size(1)), flush=True)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
    print("ready", flush=True)
    signal.sigwait({signal.SIGWINCH})  # not a handler: one could miss a read it should interrupt
    print("winch", tuple(os.get_terminal_size(0)), flush=True)
    line = sys.stdin.readline()
    print("got", repr(line), flush=True)
    os._exit(3)
os.close(s)
out = drain(m, b"ready")
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
out += drain(m, b"winch")
os.write(m, b"hellx\\x7fo\\n")
out += drain(m)
_, st = os.waitpid(pid, 0)
print(out)
print("status", os.waitstatus_to_exitcode(st))
os.close(m)
sys.stdout.flush()
pid, fd = pty.fork()
if pid == 0:
    print("forked", os.isatty(0), name(0), os.getsid(0) == os.getpid(), flush=True)
    os._exit(0)
print(drain(fd))
print("status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""

# A 200-line shell script (functions, here-documents, background jobs,
# traps, getopts...): dash, bash and busybox sh print the same on the host.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "script.sh"), "rb") as _f:
    SCRIPT = _f.read()
SCRIPT_PROGS = ["prog:" + p for p in ("sort", "tr", "uniq", "head", "tail", "wc", "cat", "sleep", "mkdir", "rm",
                                      "cut", "basename")]

# name -> (program, argv, needs) ; guest paths /data/... are the host's
# data directory when run on the host. `needs` lists extra host trees
# ("python": the modules the case imports) and other programs the case
# runs ("prog:NAME": NAME from the host's PATH, at the same path, with its
# libraries; "as:GUEST=NAME": the same at the guest path GUEST).
CASES = {
    "busybox": ("busybox", ["busybox", "sha256sum", "/data/numbers.txt"], []),
    "python3": ("/usr/bin/python3", ["python3", "-c", "print(1)"], ["python"]),
    "python3_stdlib": ("/usr/bin/python3", ["python3", "-c", PY_STDLIB], ["python"]),
    "python3_socketpair": ("/usr/bin/python3", ["python3", "-c", PY_SOCKETPAIR], ["python"]),
    "python3_asyncio_unix": ("/usr/bin/python3", ["python3", "-c", PY_ASYNCIO_UNIX], ["python"]),
    "python3_http_loopback": ("/usr/bin/python3", ["python3", "-c", PY_HTTP_LOOPBACK], ["python"]),
    "python3_http_v6": ("/usr/bin/python3", ["python3", "-c", PY_HTTP_V6], ["python"]),
    # Shells running pipelines: a process per command, pipes between them.
    # busybox's sh runs its own applets (a static busybox is fine here).
    "busybox_pipeline": ("busybox", ["busybox", "sh", "-c",
                                     "ls /data/ | wc -l; cat /data/fruits.txt | sort | uniq -c | sort -rn | head -2;"
                                     " (exit 3); echo status $?; exit 5"], []),
    "dash_pipeline": ("dash", ["dash", "-c", "echo a b c | tr ' ' '\\n' | sort -r; false || echo after false"],
                      ["prog:tr", "prog:sort", "prog:false"]),
    "dash_script": ("dash", ["dash", "/data/script.sh"], SCRIPT_PROGS),
    "bash_script": ("bash", ["bash", "/data/script.sh"], SCRIPT_PROGS),
    "python3_fork": ("/usr/bin/python3", ["python3", "-c", PY_FORK], ["python"]),
    "python3_subprocess": ("/usr/bin/python3", ["python3", "-c", PY_SUBPROCESS],
                           ["python", "prog:echo", "prog:tr", "prog:false"]),
    "python3_mp_pool": ("/usr/bin/python3", ["python3", "-c", PY_MP_POOL], ["python"]),
    "python3_mp_primitives": ("/usr/bin/python3", ["python3", "-c", PY_MP_PRIMITIVES], ["python"]),
    "python3_process_pool": ("/usr/bin/python3", ["python3", "-c", PY_PROCESS_POOL], ["python"]),
    "sqlite3": ("sqlite3", ["sqlite3", ":memory:",
                            "create table t(a,b); insert into t values(1,'x'),(2,'y'),(3,'z');"
                            " select sum(a), group_concat(b) from t;"], []),
    "lua5.4": ("lua5.4", ["lua5.4", "-e", "local s=0 for i=1,100 do s=s+i*i end print(s, string.format('%5.2f', math.pi))"], []),
    "perl": ("perl", ["perl", "-e", "my %h=(a=>1,b=>2); print join(',', map {\"$_=$h{$_}\"} sort keys %h), \"\\n\"; printf(\"%.3f\\n\", atan2(1,1)*4)"], []),
    "gawk": ("gawk", ["gawk", "{ s += $2; c[$2 % 3]++ } END { print s, NR, c[0], c[1], c[2] }", "/data/numbers.txt"], []),
    "jq": ("jq", ["jq", "-c", ".n |= sort | .tags | length", "/data/doc.json"], []),
    "bc": ("bc", ["bc", "-l", "/data/calc.bc"], []),
    "xz": ("xz", ["xz", "-c", "-6", "/data/numbers.txt"], []),
    # Threads: xz -T4 compresses 1 KiB blocks in four worker threads.
    "xz_threads": ("xz", ["xz", "-T4", "-c", "--block-size=1024", "/data/numbers.txt"], []),
    "zstd": ("zstd", ["zstd", "-c", "-q", "-3", "/data/numbers.txt"], []),
    "sort": ("sort", ["sort", "-k2,2n", "-k1,1nr", "/data/numbers.txt"], []),
    "sha256sum": ("sha256sum", ["sha256sum", "/data/numbers.txt", "/data/fruits.txt"], []),
    # More of a Debian system's everyday programs.
    "grep": ("grep", ["grep", "-n", "-E", "^1[0-9] ", "/data/numbers.txt"], []),
    "sed": ("sed", ["sed", "-n", "s/ /:/p;5q", "/data/numbers.txt"], []),
    "gzip": ("gzip", ["gzip", "-c", "-n", "/data/numbers.txt"], []),
    "bzip2": ("bzip2", ["bzip2", "-c", "/data/numbers.txt"], []),
    "od": ("od", ["od", "-A", "x", "-t", "x1z", "/data/fruits.txt"], []),
    "diff": ("diff", ["diff", "/data/numbers.txt", "/data/fruits.txt"], []),
    "date": ("date", ["date", "-u", "-d", "@86400", "+%F %T %A"], []),
    "openssl": ("openssl", ["openssl", "dgst", "-sha256", "/data/fruits.txt"], []),
    "ls": ("ls", ["ls", "-1", "/data/"], []),
    "stat": ("stat", ["stat", "-c", "%s %F %a", "/data/numbers.txt"], []),
    # Pseudo-terminals: Python's pty module, and util-linux script running a
    # shell on a new pair (its stdin is /dev/null: the window is 0x0); -e:
# the shell's status is script's.
    "pty_python3": ("/usr/bin/python3", ["python3", "-c", PY_PTY], ["python"]),
    "pty_script": ("script", ["script", "-eqc", "tty | tr -d 0-9; stty size; stty -a | head -1; exit 7", "/dev/null"],
                   ["as:/bin/sh=sh", "prog:tty", "prog:tr", "prog:stty", "prog:head"]),
}


def read_interp(path):
    """PT_INTERP of an ELF file, or None."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return None
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            ph = f.read(phentsize)
            p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", ph, 0)
            if p_type == 3:
                f.seek(p_offset)
                return f.read(p_filesz).rstrip(b"\0").decode()
    return None


def libraries(program):
    """(host file, guest path) for the loader and every library ldd lists."""
    pairs = []
    interp = read_interp(program)
    if interp:
        # As on the host: the loader's path is usually a symlink (glibc's
        # /lib64/ld-linux-x86-64.so.2, musl's /lib/ld-musl-x86_64.so.1);
        # the kernel resolves it through the VFS.
        real = os.path.realpath(interp)
        if os.path.islink(interp):
            target = os.path.normpath(os.path.join(os.path.dirname(interp), os.readlink(interp)))
            pairs += [(interp, interp), (real, target)]
        else:
            pairs.append((real, interp))
    if interp and "ld-linux" in interp:
        out = subprocess.run(["ldd", program], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True).stdout
        for line in out.splitlines():
            m = re.search(r"=>\s+(/\S+)", line)
            if m:
                pairs.append((os.path.realpath(m.group(1)), m.group(1)))
    return pairs


def libraries_of(path):
    """(host, guest) for each library ldd lists for a shared object."""
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    return [(os.path.realpath(m.group(1)), m.group(1))
            for m in re.finditer(r"=>\s+(/\S+)", out)]


def python_files(work, case_code, data):
    """The modules the case's python3 -c CODE imports, with their bytecode,
    and the libraries of the extension modules among them."""
    code = (case_code.replace("/data/", data + "/") + "\n"
            "print('MODULES')\n"
            "import sys, importlib.util, os\n"
            "for m in list(sys.modules.values()):\n"
            "    f = getattr(m, '__file__', None)\n"
            "    if f:\n"
            "        print(f)\n"
            "        if f.endswith('.py'):\n"
            "            c = importlib.util.cache_from_source(f)\n"
            "            if os.path.exists(c): print(c)\n"
            "print('DYNLOAD', os.path.join(os.path.dirname(os.__file__), 'lib-dynload'))\n")
    out = subprocess.run(["/usr/bin/python3", "-c", code], stdout=subprocess.PIPE, text=True).stdout
    out = out[out.index("MODULES\n") + len("MODULES\n"):]
    pairs = []
    for line in out.splitlines():
        if line.startswith("DYNLOAD "):
            # Python looks for this directory to find its exec_prefix; of
            # the extension modules in it, only those imported are packed.
            empty = os.path.join(work, "empty")
            os.makedirs(empty, exist_ok=True)
            pairs.append((empty, line.split(" ", 1)[1]))
        else:
            pairs.append((line, line))
            if line.endswith(".so"):
                pairs += [p for p in libraries_of(line)]
    return pairs


def make_data(d):
    os.makedirs(d)
    for name, data in (("numbers.txt", NUMBERS), ("fruits.txt", FRUITS), ("doc.json", JSON),
                       ("calc.bc", BC), ("script.sh", SCRIPT)):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def run_guest(kernel, work, program, argv, extra, timeout, cpus, mem, link=None, no_libs=False,
              fake_interp=None):
    guest = program
    pairs = [(os.path.realpath(program), guest)] + ([] if no_libs else libraries(program)) + extra
    if fake_interp:
        # Something else, executable, where the loader should be.
        fake = os.path.join(work, "fake-interp")
        shutil.copyfile(fake_interp, fake)
        os.chmod(fake, 0o755)
        pairs.append((fake, read_interp(program)))
    if link:
        # Run the program through a symlink to it.
        os.symlink(program, os.path.join(work, "link"))
        pairs.append((os.path.join(work, "link"), link))
        guest = link
    seen = {}
    for host, g in pairs:
        seen[g] = host
    initrd = os.path.join(work, "initrd.cpio")
    cpio.write_file(initrd, cpio.map_entries(list((h, g) for g, h in seen.items()), mtime=0))
    words = [guest] + argv[1:]
    cmdline = os.environ.get("CAPSULE_DYN_EXTRA", "") + f"--log={os.environ.get('CAPSULE_DYN_LOG', 'error')} --env=HOME={HOME} -- " + " ".join(cli.quote_word(w) for w in words)
    status_file = os.path.join(work, "status")
    cmd = qemu.command(kernel, cmdline=cmdline, initrd=initrd, accel="tcg", status_file=status_file,
                       cpus=cpus, mem=mem)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    status, problem = qemu.decode_status(r.returncode, status_file)
    return status, problem, r.stdout


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--case")
    p.add_argument("--program")
    p.add_argument("--expect", action="append", default=[])
    p.add_argument("--expect-status", type=int, default=0)
    p.add_argument("--cpus", default="1")
    p.add_argument("--mem", default="512M")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--link", help="run the program through a symlink at this guest path")
    p.add_argument("--no-libs", action="store_true", help="pack neither the loader nor the libraries")
    p.add_argument("--fake-interp", help="with --no-libs: pack this file as the loader")
    p.add_argument("--args", nargs=argparse.REMAINDER, default=[])
    a = p.parse_args()

    work = tempfile.mkdtemp(prefix="capsule-dyn-")
    try:
        data = os.path.join(work, "data")
        make_data(data)
        if a.program:
            status, problem, out = run_guest(a.kernel, work, a.program, [a.program] + a.args, [],
                                             a.timeout, a.cpus, a.mem, a.link, a.no_libs, a.fake_interp)
            text = out.decode(errors="replace")
            bad = [problem] if problem else []
            if status != a.expect_status:
                bad.append(f"exit status {status}, expected {a.expect_status}")
            for e in a.expect:
                if not re.search(e, text, re.M):
                    bad.append(f"expected /{e}/")
            if re.search(r"^FAIL|panic", text, re.M):
                bad.append("FAIL or panic in the output")
            if bad:
                print("\n".join(bad) + "\n--- guest output ---\n" + text)
                return 1
            print(text)
            return 0

        prog_name, argv, needs = CASES[a.case]
        program = shutil.which(prog_name)
        if not program:
            print(f"{prog_name} is not installed: skipped")
            return SKIP
        program = os.path.abspath(program)
        if a.case == "busybox" and not read_interp(program):
            print(f"{program} is not the dynamically linked busybox: skipped")
            return SKIP
        extra = [(data, "/data")]
        if "python" in needs:
            extra += python_files(work, argv[-1], data)
        for n in needs:
            if n.startswith("as:"):  # as:GUEST=NAME: NAME from the host's PATH at GUEST
                guest_path, name = n[3:].split("=", 1)
                other = shutil.which(name)
                if not other:
                    print(f"{name} is not installed: skipped")
                    return SKIP
                extra += [(os.path.realpath(other), guest_path)] + libraries(os.path.abspath(other))
            if n.startswith("prog:"):
                other = shutil.which(n[5:])
                if not other:
                    print(f"{n[5:]} is not installed: skipped")
                    return SKIP
                other = os.path.abspath(other)
                extra += [(os.path.realpath(other), other)] + libraries(other)
        host_argv = [x.replace("/data/", data + "/") for x in argv]
        env = {"HOME": HOME, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        h = subprocess.run([program] + host_argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd=work, env=env)
        host_out = h.stdout.replace(data.encode() + b"/", b"/data/")
        status, problem, out = run_guest(a.kernel, work, program, argv, extra, a.timeout, a.cpus, a.mem)
        bad = [problem] if problem else []
        if status != h.returncode:
            bad.append(f"exit status {status}, the host's {h.returncode}")
        if out != host_out:
            bad.append("output differs from the host's")
        if bad:
            print("\n".join(bad))
            print("--- host ---")
            print(host_out.decode(errors="replace")[-3000:])
            print("--- guest ---")
            print(out.decode(errors="replace")[-3000:])
            return 1
        print(f"{a.case}: {len(out)} bytes, same as the host")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
