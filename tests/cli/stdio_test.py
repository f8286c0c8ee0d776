#!/usr/bin/env python3
"""End-to-end stdio through `capsule run` (docs/console.md).

Runs each case against the program on the host first (--native: that the
expectations are Linux's) and then through ./capsule run on the given
machine. Prints "ok NAME" / "FAIL NAME: why" per case; exits 1 on a failure.

  stdio_test.py --capsule ./capsule --streams build/.../streams
                --tty-line build/.../tty_line --machine microvm
"""
import argparse
import fcntl
import hashlib
import os
import pty
import select
import shlex
import signal
import struct
import subprocess
import threading
import sys
import termios
import time

TIMEOUT = 120


class Runner:
    def __init__(self, a, native):
        self.a = a
        self.native = native

    def cmd(self, prog, *args, verbose=False):
        if self.native:
            return [prog, *args]
        c = [self.a.capsule, "run", "--machine", self.a.machine]
        # Kernel log at info level: it must still stay off stdout and stderr.
        c += ["--verbose"] if verbose else ["--cmdline=--log=info"]
        return c + [prog, *args]

    def run(self, prog, *args, stdin=b"", verbose=False):
        return subprocess.run(self.cmd(prog, *args, verbose=verbose), input=stdin,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)


def check(cond, why):
    if not cond:
        raise AssertionError(why)


def case_sort(r):
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        return "skipped (no /bin/busybox)"
    p = r.run(busybox, "sort", stdin=b"b\na\n")
    check(p.returncode == 0, f"status {p.returncode}")
    check(p.stdout == b"a\nb\n", f"stdout {p.stdout!r}")


def case_streams_separate(r):
    p = r.run(r.a.streams, "out-err")
    check(p.returncode == 0, f"status {p.returncode}")
    check(p.stdout == b"out\n", f"stdout {p.stdout!r}")
    check(p.stderr == b"err\n", f"stderr {p.stderr!r} (kernel messages must stay off it)")


def case_binary_mib(r):
    data = os.urandom(1 << 20) + bytes(range(256)) + b"\r\n\n\r\x00\x03\x04"
    p = r.run(r.a.streams, "cat", stdin=data)
    check(p.returncode == 0, f"status {p.returncode}, stderr {p.stderr[-300:]!r}")
    check(len(p.stdout) == len(data), f"{len(p.stdout)} bytes out, {len(data)} in")
    check(hashlib.sha256(p.stdout).hexdigest() == hashlib.sha256(data).hexdigest(), "sha256 differs")
    check(p.stderr == f"bytes {len(data)} isatty 0\n".encode(), f"stderr {p.stderr!r}")


def case_empty_stdin(r):
    p = r.run(r.a.streams, "cat", stdin=b"")
    check(p.returncode == 0, f"status {p.returncode}")
    check(p.stdout == b"", f"stdout {p.stdout!r}")
    check(p.stderr == b"bytes 0 isatty 0\n", f"stderr {p.stderr!r}")


def case_exit_status(r):
    for n in (0, 3, 77):
        p = r.run(r.a.streams, "exit", str(n))
        check(p.returncode == n, f"exit {n}: status {p.returncode}")


def case_segv(r):
    p = r.run(r.a.streams, "segv")
    want = -11 if r.native else 139
    check(p.returncode == want, f"status {p.returncode}, want {want}")
    check(p.stdout == b"", f"stdout {p.stdout!r}")


def case_bad_pointers(r):
    p = r.run(r.a.streams, "badptr", stdin=b"abc")
    check(p.returncode == 0 and p.stdout == b"badptr ok abc\n", f"status {p.returncode}, stdout {p.stdout!r}")
    check(p.stderr == b"", f"stderr {p.stderr!r}")


def start_cat(r):
    """`streams cat` running, its first line echoed: the program is up."""
    proc = subprocess.Popen(r.cmd(r.a.streams, "cat"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"up\n")
        proc.stdin.flush()
        check(proc.stdout.readline() == b"up\n", "the program did not start")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def line_within(proc, seconds, what):
    """The program's next stdout line, or a failure saying `what` did not
    come within `seconds` (the run is killed then, so a lost line fails
    the case instead of hanging it until ctest's timeout); the CLI's stderr
    goes with the failure."""
    timer = threading.Timer(seconds, proc.kill)
    timer.start()
    try:
        line = proc.stdout.readline()
    finally:
        timer.cancel()
    if not line and proc.poll() is not None:
        err = proc.stderr.read().decode(errors="replace")[-3000:]
        check(False, f"{what}: nothing within {seconds} s (status {proc.returncode}); stderr: {err}")
    return line


def wait_for(proc, text):
    """Reads the program's stdout until a line holding `text`."""
    out = b""
    while text not in out:
        line = proc.stdout.readline()
        check(line, f"no {text!r}: {out!r}")
        out += line
    return out


def case_sigint_without_terminal(r):
    if r.native:
        return "skipped (VM only: it tests the CLI)"
    # Not a terminal: SIGINT to the CLI goes to the program, which ignores
    # it (the run goes on); a second SIGINT stops the VM from the host, 130.
    proc = subprocess.Popen(r.cmd(r.a.tty_line, "ignint"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = wait_for(proc, b"READY")
        check(b"isatty=0 tcgetattr=0" in out and b"devtty=ENXIO" in out, f"output {out!r}")
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(3)
            raise AssertionError(f"the first SIGINT (ignored by the program) ended the run: {status}")
        except subprocess.TimeoutExpired:
            pass
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(60)
        except subprocess.TimeoutExpired:
            raise AssertionError("a second SIGINT did not stop the run")
        check(status == 130, f"status {status}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def case_signals_forwarded(r):
    # Signals to `capsule run` reach the program as kill(2) to the program
    # on the host does: handlers run (si_code SI_USER), and a clean
    # shutdown on SIGTERM gives the program's own status.
    proc = subprocess.Popen(r.cmd(r.a.streams, "signals"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(proc, b"READY")
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGINT):
            proc.send_signal(sig)
            line = line_within(proc, 60, f"the program's line for {sig.name}")
            check(line == f"GOT {sig.name} code=0\n".encode(), f"{sig.name}: {line!r}")
        proc.send_signal(signal.SIGTERM)
        check(line_within(proc, 60, "the program's line for SIGTERM") == b"GOT SIGTERM code=0\n",
              "SIGTERM not handled")
        status = proc.wait(TIMEOUT)
        check(status == 42, f"status {status}, want 42 (the program's clean shutdown)")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Without a handler the default action ends the program: SIGHUP as a
    # terminal hang-up does; the status is the shell's 128+N.
    proc = start_cat(r)
    try:
        proc.send_signal(signal.SIGHUP)
        status = proc.wait(TIMEOUT)
        check(status == (-1 if r.native else 129), f"SIGHUP: status {status}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def case_thread_dump(r):
    if r.native:
        return "skipped (VM only: it tests the CLI)"
    # SIGQUIT to `capsule run` prints every thread's state (the kernel log
    # follows on stderr from then on); the program goes on.
    proc = start_cat(r)
    try:
        proc.send_signal(signal.SIGQUIT)
        err = b""
        while b"thread dump end" not in err:
            line = proc.stderr.readline()
            check(line, f"no thread dump on stderr: {err!r}")
            err += line
        check(b"requested by the host" in err, f"dump header: {err!r}")
        proc.stdin.write(b"still here\n")
        proc.stdin.close()
        check(proc.stdout.readline() == b"still here\n", "the program stopped after the dump")
        check(proc.wait(TIMEOUT) == 0, "status after the dump")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def case_verbose_log(r):
    if r.native:
        return "skipped (VM only)"
    # The test above could fail: with --verbose the kernel log is on stderr.
    p = r.run(r.a.streams, "out-err", verbose=True)
    check(p.stdout == b"out\n", f"stdout {p.stdout!r}")
    check(b"virtio-console" in p.stderr and b"err\n" in p.stderr, f"stderr {p.stderr[:300]!r}")


def pty_session(r, keys_after_ready, expect, final_keys=b"\x03", mode=None, after_ready=None):
    """Runs tty_line on a pty: returns (output, exit status). after_ready(fd)
    acts on the pty's master once the program is ready."""
    pid, fd = pty.fork()
    if pid == 0:
        cmd = r.cmd(r.a.tty_line, *([mode] if mode else []))
        try:
            # The window size before the program (or the CLI) can ask for it.
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    buf = b""

    def until(pat, timeout=TIMEOUT):
        nonlocal buf
        end = time.time() + timeout
        while pat not in buf and time.time() < end:
            rd, _, _ = select.select([fd], [], [], 0.5)
            if rd:
                try:
                    d = os.read(fd, 4096)
                except OSError:
                    break
                if not d:
                    break
                buf += d
        return pat in buf

    try:
        check(until(b"READY"), f"no READY: {buf!r}")
        if after_ready:
            after_ready(fd)
        os.write(fd, keys_after_ready)
        check(until(expect), f"no {expect!r} in {buf!r}")
        time.sleep(0.2)
        os.write(fd, final_keys)
        deadline = time.time() + 60
        while True:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.time() > deadline:
                os.kill(pid, 9)
                raise AssertionError("the program did not end after ^C")
            until(b"\x00never", 0.2)
        return buf, os.waitstatus_to_exitcode(st)
    finally:
        os.close(fd)


def case_dev_tty_without_terminal(r):
    # No controlling terminal (a new session, stdin a pipe): open("/dev/tty")
    # fails with ENXIO, on the host and in the VM; never a descriptor that
    # isatty() rejects.
    p = subprocess.run(r.cmd(r.a.tty_line, "devtty"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT, start_new_session=True)
    check(p.returncode == 0, f"status {p.returncode}: {p.stderr!r}")
    check(p.stdout == b"isatty=0 tcgetattr=0 icanon=0 winsize=0 rows=-1 devtty=ENXIO\n", f"output {p.stdout!r}")


def case_tty_line(r):
    # Canonical input with DEL applied, the line echoed, "\n" shown as "\r\n".
    out, status = pty_session(r, b"abx\x7fc\r", b"LINE:[abc\r\n]")
    check(b"isatty=1 tcgetattr=1 icanon=1 winsize=1 rows=33 devtty=tty" in out, f"output {out!r}")
    check(b"LINE:[abc\r\n]\r\n" in out, f"output {out!r}")
    check(b"abx\b \bc" in out, f"echo {out!r}")
    # ^C: SIGINT kills the program; the shell convention is 128 + 2.
    want = -2 if r.native else 130
    check(status == want, f"status {status}, want {want}")


def case_tty_raw(r):
    # ICANON and ECHO off, VMIN 1: one key arrives alone, unechoed.
    out, status = pty_session(r, b"q", b"RAW:[q]", mode="raw")
    check(b"FAIL" not in out, f"output {out!r}")
    check(b"READY\r\nRAW:[q]\r\n" in out, f"output {out!r}")
    want = -2 if r.native else 130
    check(status == want, f"status {status}, want {want}")


def case_tty_order(r):
    # Lines written to stdout and stderr by turns reach one terminal in the
    # order written, as on the host (the CLI tells the kernel both are the
    # same terminal: one port carries both, --tty-one-output).
    out, status = pty_session(r, b"y\r", b"LINE:[y\r\n]", mode="order")
    want = "".join(f"{1 + (i & 1)}:{i}\r\n" for i in range(200)).encode()
    check(want in out, f"lines out of order: {out[:600]!r}")
    check(b"FAIL" not in out, f"output {out!r}")
    want = -2 if r.native else 130
    check(status == want, f"status {status}, want {want}")


def case_tty_resize(r):
    # The host terminal is resized while the program runs: it gets SIGWINCH
    # and TIOCGWINSZ answers the new size (the CLI passes it on).
    def resize(fd):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    out, status = pty_session(r, b"", b"WINCH rows=40 cols=120", mode="winch", after_ready=resize)
    check(b"FAIL" not in out, f"output {out!r}")
    want = -2 if r.native else 130
    check(status == want, f"status {status}, want {want}")


def case_tty_escape(r):
    if r.native:
        return "skipped (VM only)"
    # The program ignores SIGINT: ^C is echoed and ignored; Ctrl-A x stops
    # the VM from the host.
    out, status = pty_session(r, b"\x03", b"^C", final_keys=b"\x01x", mode="ignint")
    check(status == 130, f"status {status}")


def case_serial_tty(r):
    """Without a virtio-console (the serial fallback) and with --tty: the
    UART's input goes through the line discipline, ^C kills the program."""
    if r.native:
        return "skipped (VM only)"
    import tempfile
    root = os.path.dirname(os.path.abspath(r.a.capsule))
    sys.path.insert(0, os.path.join(root, "tools", "capsule"))
    from capsule_cli import image, qemu
    work = tempfile.mkdtemp(prefix="stdio-test-")
    initrd, guest = image.static_program_initrd(r.a.tty_line, work, [])
    status_file = os.path.join(work, "status")
    cmd = qemu.command(os.path.join(root, "build", "capsule.elf"), machine=r.a.machine, accel="tcg",
                       cmdline=f"--tty=24x80 -- {guest}", initrd=initrd, status_file=status_file)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = b""

    def until(pat, timeout=60):
        nonlocal out
        end = time.time() + timeout
        while pat not in out and time.time() < end:
            rd, _, _ = select.select([p.stdout], [], [], 0.5)
            if rd:
                d = os.read(p.stdout.fileno(), 4096)
                if not d:
                    break
                out += d
        return pat in out

    try:
        check(until(b"READY"), f"no READY: {out!r}")
        p.stdin.write(b"xy\x7fz\r")
        p.stdin.flush()
        check(until(b"LINE:[xz\r\n]\r\n"), f"no line: {out!r}")
        p.stdin.write(b"\x03")
        p.stdin.flush()
        until(b"\x00never", 5)
        p.wait(60)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"^C did not end the program: {out!r}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    status, problem = qemu.decode_status(p.returncode, status_file)
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    check(b"isatty=1" in out and b"LINE:[xz\r\n]" in out, f"output {out!r}")
    check(status == 130, f"status {status} ({problem})")


def pipeline(r, prog_args, tail, redirect=""):
    """Runs `PROG ARGS REDIRECT | TAIL` in bash: (status of PROG, bytes TAIL
    printed). A reader that leaves early must end the program (issue 15)."""
    script = f'{shlex.join(r.cmd(*prog_args))} {redirect} | {tail}; echo "status ${{PIPESTATUS[0]}}" >&2'
    p = subprocess.run(["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT)
    lines = p.stderr.decode(errors="replace").splitlines()
    check(lines and lines[-1].startswith("status "), f"stderr {p.stderr[-300:]!r}")
    return int(lines[-1].split()[1]), p.stdout, p.stderr


def case_sigpipe_stdout(r):
    # `| head -2`: the program's next write after head left gets SIGPIPE
    # (status 141), never an endless run.
    status, out, _ = pipeline(r, (r.a.streams, "spam", "1"), "head -2")
    check(status == 141, f"status {status}, want 141")
    check(out == b"line\nline\n", f"stdout {out!r}")


def case_sigpipe_stderr(r):
    # The same on stderr (stdout to /dev/null, stderr into the pipe).
    status, out, _ = pipeline(r, (r.a.streams, "spam", "2"), "head -1", redirect="2>&1 >/dev/null")
    check(status == 141, f"status {status}, want 141")
    check(out == b"line\n", f"stdout {out!r}")


def case_epipe_ignored(r):
    # SIGPIPE ignored: the write fails with EPIPE and the program goes on.
    status, out, err = pipeline(r, (r.a.streams, "spam-ign", "1"), "head -1")
    check(status == 1, f"status {status}, want 1")
    check(out == b"line\n", f"stdout {out!r}")
    check(err.startswith(b"write: EPIPE\n"), f"stderr {err!r}")


def case_seq_head(r):
    # A real Debian program (coreutils seq, dynamic): as on the host.
    if not os.path.exists("/usr/bin/seq"):
        return "skipped (no /usr/bin/seq)"
    status, out, _ = pipeline(r, ("/usr/bin/seq", "1", "1000000"), "head -1")
    check(status == 141, f"status {status}, want 141")
    check(out == b"1\n", f"stdout {out!r}")


PY_EPIPE = """import sys
try:
    while True:
        sys.stdout.write("x" * 99 + "\\n")
except BrokenPipeError as e:
    sys.stderr.write("BrokenPipeError errno %d\\n" % e.errno)
    sys.exit(5)
"""


def case_python_epipe(r):
    # Python ignores SIGPIPE: BrokenPipeError (errno 32), handled by the program.
    if not os.path.exists("/usr/bin/python3"):
        return "skipped (no python3)"
    status, out, err = pipeline(r, ("python3", "-c", PY_EPIPE), "head -1")
    check(status == 5, f"status {status}, want 5; stderr {err[-300:]!r}")
    check(out == b"x" * 99 + b"\n", f"stdout {out[:200]!r}")
    check(err.startswith(b"BrokenPipeError errno 32\n"), f"stderr {err[-300:]!r}")


def case_stdin_closed(r):
    # The writer of stdin closes it while the program reads: end of file.
    proc = subprocess.Popen(r.cmd(r.a.streams, "cat"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"abc\n")
        proc.stdin.flush()
        got = proc.stdout.readline()  # the program is reading: the bytes came back
        check(got == b"abc\n", f"stdout {got!r}")
        out, err = proc.communicate(timeout=TIMEOUT)  # closes stdin
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(proc.returncode == 0, f"status {proc.returncode}")
    check(out == b"" and err == b"bytes 4 isatty 0\n", f"stdout {out!r} stderr {err!r}")


def children(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def case_cli_killed(r):
    if r.native:
        return "skipped (VM only: it tests the CLI)"
    # SIGKILL (nothing runs in the CLI) and SIGTERM to the CLI while the
    # program waits for input: QEMU never outlives it.
    for sig, want in ((signal.SIGKILL, -9), (signal.SIGTERM, 143)):
        proc = start_cat(r)
        try:
            qemu = [k for k in children(proc.pid) if b"qemu" in open(f"/proc/{k}/cmdline", "rb").read()]
            check(len(qemu) == 1, f"QEMU children {qemu}")
            proc.send_signal(sig)
            status = proc.wait(TIMEOUT)
            check(status == want, f"{sig.name}: status {status}, want {want}")
            deadline = time.time() + TIMEOUT
            while not gone(qemu[0]) and time.time() < deadline:
                time.sleep(0.2)
            check(gone(qemu[0]), f"{sig.name}: QEMU {qemu[0]} outlived the CLI")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


CASES = [case_sigpipe_stdout, case_sigpipe_stderr, case_epipe_ignored, case_seq_head, case_python_epipe,
         case_stdin_closed, case_cli_killed, case_dev_tty_without_terminal, case_sort, case_streams_separate, case_binary_mib, case_empty_stdin, case_exit_status,
         case_segv, case_bad_pointers, case_sigint_without_terminal, case_signals_forwarded, case_thread_dump,
         case_verbose_log,
         case_tty_line, case_tty_raw, case_tty_order, case_tty_resize, case_tty_escape, case_serial_tty]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--capsule", required=True)
    p.add_argument("--streams", required=True)
    p.add_argument("--tty-line", required=True)
    p.add_argument("--machine", default="microvm")
    p.add_argument("--native", action="store_true", help="run the programs on the host")
    p.add_argument("-k", help="only cases whose name contains this")
    a = p.parse_args()
    r = Runner(a, a.native)
    failed = 0
    for c in CASES:
        name = c.__name__[5:]
        if a.k and a.k not in name:
            continue
        try:
            note = c(r)
            print(f"ok {name}" + (f" ({note})" if note else ""), flush=True)
        except (AssertionError, subprocess.TimeoutExpired) as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)
    print("PASS stdio" if not failed else f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
