"""The program's stdio for `capsule run` (docs/console.md).

QEMU gets a virtio-console with three named ports (capsule.stdin,
capsule.stdout, capsule.stderr) and the serial port (the kernel log), each
on a socket chardev whose other end this module holds (socketpairs passed
by descriptor). Relay threads copy bytes unchanged:

  CLI stdin  → capsule.stdin   (at end of file: shutdown(SHUT_WR), which
                                QEMU reports to the guest as PORT_OPEN 0)
  capsule.stdout → CLI stdout,  capsule.stderr → CLI stderr
  serial     → kept in memory; live on stderr with --verbose (or after a
               thread dump was asked for); printed when the kernel
               panicked or QEMU failed
  trace      ← capsule.trace (only with --strace, --stats or --trace): the
               system-call trace and the --stats report, to stderr in
               whole lines or to the --strace-output file (docs/strace.md,
               docs/stats.md); the --trace rings as blocks, each a line
               "\\0CAPSULE-TRACE N" and N bytes, appended to the
               --trace-output file (docs/trace.md)
  requests   → capsule.ctl, one line each (docs/console.md "Signals and
               requests from the host"): "signal N" for SIGTERM, SIGHUP,
               SIGINT (without a terminal), SIGUSR1 and SIGUSR2 the CLI
               gets, "winsize R C" when the terminal is resized, "dump"
               for SIGQUIT or Ctrl-A t, "stats" for SIGUSR1 with --stats

When stdin is a terminal it is put in raw mode for the run (the guest's
line discipline echoes and turns ^C into SIGINT; the kernel gets
--tty=ROWSxCOLS). Host escapes: Ctrl-A x, or ^C twice within a second,
stop the VM; Ctrl-A t asks for a thread dump. The terminal is always
restored.
"""
import os
import signal
import socket
import sys
import termios
import threading
import time
import tty

CTRL_A, CTRL_C = 0x01, 0x03
# Signals to the CLI that the program gets instead (as `docker run` does):
# the first of each is forwarded; the same signal again stops the VM.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
SERIAL_KEEP = 1 << 20  # bytes of kernel log kept for a panic report
SERIAL_LINE_MAX = 1 << 16  # a log "line" longer than this goes out unfinished


def _write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def one_terminal(fd1, fd2):
    """Both descriptors are the same terminal (a shell's usual stdout and
    stderr): the guest then sends both through stdout's port, so their
    order and the echo's are kept (two ports relayed by two threads would
    interleave them differently from a real terminal)."""
    try:
        if not (os.isatty(fd1) and os.isatty(fd2)):
            return False
        a, b = os.fstat(fd1), os.fstat(fd2)
        return (a.st_rdev, a.st_dev, a.st_ino) == (b.st_rdev, b.st_dev, b.st_ino)
    except OSError:
        return False


class Stdio:
    def __init__(self, machine, verbose=False, program=True, stdin_fd=0, stdout_fd=1, stderr_fd=2,
                 trace=False, trace_fd=None, stats=False, trace_data_fd=None):
        self.machine = machine
        self.verbose = verbose
        self.program = program
        self.stdin_fd, self.stdout_fd, self.stderr_fd = stdin_fd, stdout_fd, stderr_fd
        self.terminal = program and os.isatty(stdin_fd)
        self.serial_log = bytearray()
        self._write_lock = threading.Lock()  # stderr: one chunk at a time
        self.escaped = False  # the user stopped the VM from the host
        self.live_log = verbose  # the kernel log goes to stderr as it comes
        self._saved_tc = None
        self._threads = []
        self._proc = None
        self._pairs = {}
        self._ctl_lock = threading.Lock()
        self.trace = program and trace
        self.trace_fd = trace_fd  # None: stderr
        self.stats = program and stats  # SIGUSR1 asks for the --stats report
        self.trace_data_fd = trace_data_fd  # --trace: the records' file
        self.trace_data_bytes = 0
        for name in ("in", "out", "err", "serial", "ctl") + (("trace",) if self.trace else ()):
            mine, theirs = socket.socketpair()
            self._pairs[name] = (mine, theirs)

    def pass_fds(self):
        return [theirs.fileno() for _, theirs in self._pairs.values()]

    def kernel_args(self):
        if not self.terminal:
            return ""
        try:
            cols, rows = os.get_terminal_size(self.stdin_fd)
        except OSError:
            rows, cols = 24, 80
        words = f"--tty={rows}x{cols}"
        if one_terminal(self.stdout_fd, self.stderr_fd):
            words += " --tty-one-output"
        return words

    def qemu_args(self):
        fd = {k: theirs.fileno() for k, (_, theirs) in self._pairs.items()}
        args = ["-chardev", f"socket,id=capsule-serial,fd={fd['serial']}",
                "-serial", "chardev:capsule-serial"]
        if not self.program:
            return args
        ports = 6 if self.trace else 5
        if self.machine == "microvm":
            args += ["-global", "virtio-mmio.force-legacy=false",
                     "-device", f"virtio-serial-device,max_ports={ports}"]
        else:
            args += ["-device", f"virtio-serial-pci,max_ports={ports},disable-legacy=on"]
        for nr, name in ((1, "in"), (2, "out"), (3, "err")):
            args += ["-chardev", f"socket,id=capsule-std{name},fd={fd[name]}",
                     "-device", f"virtserialport,chardev=capsule-std{name},name=capsule.std{name},nr={nr}"]
        args += ["-chardev", f"socket,id=capsule-ctl,fd={fd['ctl']}",
                 "-device", "virtserialport,chardev=capsule-ctl,name=capsule.ctl,nr=4"]
        if self.trace:
            args += ["-chardev", f"socket,id=capsule-trace,fd={fd['trace']}",
                     "-device", "virtserialport,chardev=capsule-trace,name=capsule.trace,nr=5"]
        return args

    def request(self, line):
        """One request to the kernel (tty::host_request); False when it
        cannot go (no program console, or the VM is gone)."""
        if not self.program:
            return False
        try:
            with self._ctl_lock:
                self._pairs["ctl"][0].sendall(line.encode() + b"\n")
            return True
        except OSError:
            return False

    def stats_report(self):
        """The --stats report so far, on the trace channel (docs/stats.md)."""
        self.request("stats")

    def thread_dump(self):
        """Every thread's state, in the kernel log, which from now on goes
        to stderr as it comes (docs/hang_detector.md)."""
        self.live_log = True
        self.request("dump")

    def window_changed(self):
        if self.terminal:
            try:
                cols, rows = os.get_terminal_size(self.stdin_fd)
            except OSError:
                return
            self.request(f"winsize {rows} {cols}")

    # --- running ---------------------------------------------------------

    def start(self, proc):
        """After QEMU started: close QEMU's ends here, start the relays."""
        self._proc = proc
        for _, theirs in self._pairs.values():
            theirs.close()
        if self.terminal:
            self._saved_tc = termios.tcgetattr(self.stdin_fd)
            tty.setraw(self.stdin_fd)
        out_sock = self._pairs["out"][0]
        err_sock = self._pairs["err"][0]
        serial_sock = self._pairs["serial"][0]
        self._spawn(self._relay_out, out_sock, self.stdout_fd, daemon=False)
        self._spawn(self._relay_out, err_sock, self.stderr_fd, daemon=False)
        self._spawn(self._relay_serial, serial_sock, daemon=False)
        if self.trace:
            self._spawn(self._relay_trace, self._pairs["trace"][0], daemon=False)
        # stdin: a daemon, it may sit in read() when the VM ends.
        self._spawn(self._relay_in, self._pairs["in"][0], daemon=True)

    def finish(self):
        """After QEMU exited: wait for the output relays to drain; restore
        the terminal."""
        try:
            for t in self._threads:
                if not t.daemon:
                    t.join()
        finally:
            self.restore_terminal()
            for mine, _ in self._pairs.values():
                try:
                    mine.close()
                except OSError:
                    pass

    def restore_terminal(self):
        if self._saved_tc is not None:
            termios.tcsetattr(self.stdin_fd, termios.TCSADRAIN, self._saved_tc)
            self._saved_tc = None

    def report_serial(self):
        """The kernel log on stderr (after a panic or a QEMU failure)."""
        if self.verbose or not self.serial_log:
            return
        _write_all(self.stderr_fd, bytes(self.serial_log))

    def _spawn(self, fn, *args, daemon):
        t = threading.Thread(target=fn, args=args, daemon=daemon)
        t.start()
        self._threads.append(t)

    def _write(self, fd, data):
        """A relay's chunk goes out whole: the program's stderr and the kernel
        log (--verbose) share a descriptor, and a pipe splits big writes."""
        if fd != self.stderr_fd:
            _write_all(fd, data)
            return
        with self._write_lock:
            _write_all(fd, data)

    def _relay_out(self, sock, fd):
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                self._write(fd, data)
            except OSError:
                # The reader went away (`| head`): hang up the port. QEMU
                # sees the socket's HUP and tells the guest (PORT_OPEN 0),
                # whose next write to the stream fails with EPIPE and
                # SIGPIPE, as on the host (docs/console.md "Closed outputs").
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return

    def _relay_trace(self, sock):
        """The trace in whole lines: on stderr it shares the descriptor with
        the program's own stderr, and a line is never cut by it."""
        fd = self.trace_fd if self.trace_fd is not None else self.stderr_fd
        pending = b""
        block = 0  # bytes of a --trace block still to come

        def text(chunk):
            try:
                self._write(fd, chunk)
            except OSError:
                pass

        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            pending += data
            while pending:
                if block:
                    part = pending[:block]
                    self._trace_data(part)
                    block -= len(part)
                    pending = pending[len(part):]
                    continue
                mark = pending.find(b"\0")
                if mark < 0:
                    cut = pending.rfind(b"\n") + 1
                    if cut:
                        text(pending[:cut])
                        pending = pending[cut:]
                    break
                if mark:
                    text(pending[:mark])
                    pending = pending[mark:]
                end = pending.find(b"\n")
                if end < 0:
                    break  # the marker line is not whole yet
                head = pending[1:end].split()
                pending = pending[end + 1:]
                if len(head) == 2 and head[0] == b"CAPSULE-TRACE" and head[1].isdigit():
                    block = int(head[1])
        if pending and not block:
            text(pending)
        if self.trace_fd is not None:
            os.close(self.trace_fd)
        if self.trace_data_fd is not None:
            os.close(self.trace_data_fd)

    def _trace_data(self, data):
        if self.trace_data_fd is None:
            return
        try:
            _write_all(self.trace_data_fd, data)
            self.trace_data_bytes += len(data)
        except OSError:
            pass

    def _relay_serial(self, sock):
        # With --verbose the kernel log shares stderr with the program's own
        # stderr: it goes out in whole lines, so a line of the log (a
        # [missing] or --strace line) is never cut by the program's output.
        pending = b""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                if pending:
                    self._write(self.stderr_fd, pending)
                return
            if not self.program:
                _write_all(self.stdout_fd, data)
            elif self.live_log:
                pending += data
                cut = pending.rfind(b"\n") + 1
                if cut == 0 and len(pending) < SERIAL_LINE_MAX:
                    continue
                if cut == 0:
                    cut = len(pending)
                self._write(self.stderr_fd, pending[:cut])
                pending = pending[cut:]
            else:
                self.serial_log += data
                if len(self.serial_log) > SERIAL_KEEP:
                    del self.serial_log[:len(self.serial_log) - SERIAL_KEEP]

    def _relay_in(self, sock):
        last_ctrl_c = 0.0
        after_ctrl_a = False
        try:
            while True:
                try:
                    data = os.read(self.stdin_fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                if self.terminal:
                    for b in data:
                        if after_ctrl_a and b in (ord("x"), ord("X")):
                            return self._escape()
                        if after_ctrl_a and b in (ord("t"), ord("T")):
                            self.thread_dump()
                        after_ctrl_a = b == CTRL_A
                        if b == CTRL_C:
                            now = time.monotonic()
                            if now - last_ctrl_c < 1.0:
                                return self._escape()
                            last_ctrl_c = now
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # end of file for the guest
        except OSError:
            pass

    def _escape(self):
        self.escaped = True
        if self._proc and self._proc.poll() is None:
            self._proc.kill()


def _die_with_parent():
    """In the child before exec: QEMU gets SIGKILL when the CLI dies
    (prctl PR_SET_PDEATHSIG), so a killed CLI leaves no VM behind."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


SETPRIV = "/usr/bin/setpriv"


def run(cmd, st):
    """Runs QEMU with `st` wired. Returns (qemu_status, None), or (None, S)
    when the run was stopped from the host: S = 130 for the host escape,
    128+N when signal N came a second time (or could not be forwarded)."""
    import subprocess
    stopped = []
    forwarded = set()

    def on_signal(signum, frame):
        # The first SIGTERM, SIGHUP, SIGINT... goes to the program, which
        # may handle it (a server shutting down cleanly) or die of it (the
        # VM's status is then 128+N, as on the host); the same signal again
        # stops the VM from here.
        if signum == signal.SIGUSR1 and st.stats:
            st.stats_report()  # --stats: a report, not a signal for the program
            return
        if signum not in forwarded and st.request(f"signal {signum}"):
            forwarded.add(signum)
            return
        stopped.append(128 + signum)
        if proc.poll() is None:
            proc.kill()

    # QEMU runs in a session of its own (a terminal's ^C is the guest's
    # business), so the CLI passes on the signals meant for the program.
    old = {s: signal.signal(s, on_signal) for s in FORWARDED}
    old[signal.SIGQUIT] = signal.signal(signal.SIGQUIT, lambda signum, frame: st.thread_dump())
    old[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, lambda signum, frame: st.window_changed())
    try:
        if os.access(SETPRIV, os.X_OK):
            # util-linux's setpriv sets the death signal and execs QEMU: no
            # Python runs between fork and exec (preexec_fn would import
            # ctypes in the child and forbid the fast spawn path).
            proc = subprocess.Popen([SETPRIV, "--pdeathsig", "KILL", *cmd], pass_fds=st.pass_fds(),
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        else:
            proc = subprocess.Popen(cmd, pass_fds=st.pass_fds(), stdin=subprocess.DEVNULL,
                                    start_new_session=True, preexec_fn=_die_with_parent)
        try:
            st.start(proc)
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            st.finish()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if stopped:
        return None, stopped[0]
    if st.escaped:
        return None, 130
    return rc, None
