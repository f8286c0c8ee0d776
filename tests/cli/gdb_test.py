"""`capsule run --gdb` driven by a gdb batch session (docs/gdb.md).

    gdb_test.py static  STATIC DYNAMIC   tests/cli/programs/gdb_target.c built
                                         -g -O0 with glibc, static: `break
                                         main` set before the program is
                                         loaded, `continue` reaches it, `bt`
                                         shows main and glibc's
                                         __libc_start_call_main, `next` steps
                                         line by line, `print total` gives
                                         14, `finish` returns 7; after
                                         `detach` the program prints its line
                                         and `capsule run` exits 7, as without
                                         a debugger
    gdb_test.py dynamic STATIC DYNAMIC   the same with the dynamic (PIE) build:
                                         main at its random load address, and
                                         libc.so.6's symbols loaded from the
                                         link_map (main's caller is in it)
    gdb_test.py kernel  STATIC DYNAMIC   at main, a breakpoint in the kernel's
                                         syscall_dispatch: getpid stops there
                                         and `bt` goes from the kernel through
                                         syscall_entry into the program
                                         (getpid, main)
    gdb_test.py bad_port ...             --gdb=notaport, 0, 65536: status 2 and
                                         one line; a bare --gdb before PROGRAM
                                         takes the default port, not PROGRAM
    gdb_test.py port_in_use ...          a port something listens on: status 2
                                         and a line naming the port

Every wait is bounded (the CLI's line, gdb, the VM's end); on failure the
CLI's process group (and QEMU with it) is killed. Skipped (77) without gdb.
"""
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "capsule"))
WAIT_ATTACH = 150  # the CLI packs the image (and may build the kernel) before it prints the command
WAIT_GDB = 120     # the whole gdb session under TCG on a loaded host
WAIT_EXIT = 60


def check(cond, what, failures):
    if not cond:
        print("FAIL:", what)
        failures.append(what)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Run:
    """`capsule run --gdb=PORT PROGRAM` in its own process group; its stderr
    read by a thread so that every wait has a deadline."""

    def __init__(self, port, program):
        self.cmd = [CAPSULE, "run", "--net", "none", f"--gdb={port}", program]
        print("$", " ".join(self.cmd))
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines = queue.Queue()
        self.stderr = []
        self.stdout = ""
        threading.Thread(target=self._read_err, daemon=True).start()
        self.out_thread = threading.Thread(target=self._read_out, daemon=True)
        self.out_thread.start()

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _read_out(self):
        self.stdout = self.proc.stdout.read()

    def attach_command(self):
        """The gdb command the CLI printed, or None (the CLI ended first or
        the deadline passed)."""
        seen = False
        while True:
            try:
                line = self.lines.get(timeout=WAIT_ATTACH)
            except queue.Empty:
                return None
            if line is None:
                return None
            if seen:
                return line.strip()
            if "attach with" in line:
                seen = True

    def wait(self):
        try:
            return self.proc.wait(timeout=WAIT_EXIT)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)


def gdb_session(attach, commands):
    m = re.search(r"-x (\S+) -ex '?capsule-connect (.+?)'?$", attach)
    if not m:
        return None, f"cannot read the attach command: {attach!r}"
    script, config = m.group(1), m.group(2).strip("'\"")
    cmd = ["gdb", "-nx", "-batch", "-x", script, "-ex", f"capsule-connect {config}"]
    for c in commands:
        cmd += ["-ex", c]
    print("$", " ".join(cmd))
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=WAIT_GDB)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return out, "gdb did not finish in time"
    return r.stdout, None


def debug_run(program, commands, failures):
    """Runs `program` under --gdb, the gdb session, and the end of the run.
    Returns (gdb output, CLI status, CLI stdout)."""
    run = Run(free_port(), program)
    try:
        attach = run.attach_command()
        if not check(attach is not None, "the CLI printed the gdb command", failures):
            run.kill()
            print("".join(run.stderr))
            return "", None, ""
        print("attach:", attach)
        out, problem = gdb_session(attach, commands)
        print(out)
        if not check(problem is None, problem or "", failures):
            run.kill()
            return out or "", None, ""
        status = run.wait()
        check(status is not None, "capsule run ended after gdb detached", failures)
        run.out_thread.join(timeout=10)
        print("CLI stderr:\n" + "".join(run.stderr))
        return out, status, run.stdout
    finally:
        run.kill()


def ordered(text, patterns):
    """Each regex found after the previous one."""
    pos = 0
    for p in patterns:
        m = re.compile(p, re.M).search(text, pos)
        if not m:
            return p
        pos = m.end()
    return None


def case_program(program, dynamic, failures):
    out, status, stdout = debug_run(program, [
        "break main", "continue", "bt", "next", "next", "print total", "finish", "detach"], failures)
    missing = ordered(out, [
        # The libraries' symbols come before main runs (the dynamic build's
        # libc.so.6 from the link_map, at its random base).
        r"^capsule: library .*/libc\.so\.6 at 0x" if dynamic else r"^capsule: pid 1 exec .*gdb_target",
        r"^Breakpoint 1, main \(\) at .*gdb_target\.c:12",
        r"^#0  main \(\) at .*gdb_target\.c:12",
        # main's callers down to the program's _start: the static build
        # names glibc's __libc_start_call_main (its own symbols); the
        # dynamic one unwinds through libc.so.6 with the CFI of the file
        # the script loaded (the name needs libc6-dbg's symbols).
        r"^#1  .*__libc_start_call_main" if not dynamic else r"^#1  .* in __libc_start",
        r"^#\d+ .*_start \(\)",
        r"^13\s+for \(int i = 1",
        r"^14\s+pid_t pid = getpid\(\);",
        r"^\$1 = 14$",
        r"^(0x[0-9a-f]+ in )?__libc_start",  # finish: back in main's caller
        r"Value returned is \$2 = 7",
    ])
    check(missing is None, f"gdb's output has {missing!r}", failures)
    check("libc.so.6" in out if dynamic else True, "libc.so.6's symbols were loaded", failures)
    check(status == 7, f"capsule run's status is the program's (7): {status}", failures)
    check("gdb_target total 14 pid 1" in stdout, f"the program's stdout: {stdout!r}", failures)


def case_kernel(program, failures):
    out, status, stdout = debug_run(program, [
        "break main", "continue", "break syscall_dispatch", "continue", "bt", "delete", "detach"], failures)
    missing = ordered(out, [
        r"^Breakpoint 1, main \(\)",
        r"^Breakpoint 2, .*syscall_dispatch",
        r"^#0 .*syscall_dispatch",
        r"^#\d+ .*syscall_entry",
        r"^#\d+ .*getpid",
        r"^#\d+ .*main \(\) at .*gdb_target\.c:14",
        r"^#\d+ .*_start \(\)",
    ])
    check(missing is None, f"gdb's output has {missing!r}", failures)
    check(status == 7, f"capsule run's status is the program's (7): {status}", failures)
    check("gdb_target total 14 pid 1" in stdout, f"the program's stdout: {stdout!r}", failures)


def case_bad_port(program, failures):
    for value in ("notaport", "0", "65536", "-1"):
        r = subprocess.run([CAPSULE, "run", f"--gdb={value}", program], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        print(f"--gdb={value}: {r.returncode} {r.stderr.strip()}")
        check(r.returncode == 2, f"--gdb={value}: status 2 ({r.returncode})", failures)
        check(re.fullmatch(rf"capsule: bad --gdb port '{re.escape(value)}' .*\n", r.stderr) is not None,
              f"--gdb={value}: one line naming the value: {r.stderr!r}", failures)
    from capsule_cli import cli  # the bare --gdb rewriting, without a VM
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--mem")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--gdb", nargs="?")
    for argv, want in (
            (["run", "--gdb", "/bin/true", "--gdb"], ["run", "--gdb=1234", "/bin/true", "--gdb"]),
            (["run", "--mem", "64M", "--gdb", "--verbose", "x"], ["run", "--mem", "64M", "--gdb=1234", "--verbose", "x"]),
            (["run", "--gdb=99", "x", "--gdb"], ["run", "--gdb=99", "x", "--gdb"]),
            (["run", "--mem", "--gdb", "x"], ["run", "--mem", "--gdb", "x"])):
        got = cli.bare_gdb(list(argv), p)
        check(got == want, f"bare --gdb: {argv} -> {got}, expected {want}", failures)


def case_port_in_use(program, failures):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        r = subprocess.run([CAPSULE, "run", "--net", "none", f"--gdb={port}", program], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        s.close()
    print(f"--gdb={port} (in use): {r.returncode} {r.stderr.strip()}")
    check(r.returncode == 2, f"a port in use: status 2 ({r.returncode})", failures)
    check(f"port {port} on 127.0.0.1 is in use" in r.stderr, f"the line names the port: {r.stderr!r}", failures)


def main():
    what, static, dynamic = sys.argv[1], sys.argv[2], sys.argv[3]
    if what in ("static", "dynamic", "kernel") and not shutil.which("gdb"):
        print("SKIP: gdb is not installed (deps.py \"test\" installs it)")
        return 77
    failures = []
    if what == "static":
        case_program(static, False, failures)
    elif what == "dynamic":
        case_program(dynamic, True, failures)
    elif what == "kernel":
        case_kernel(static, failures)
    elif what == "bad_port":
        case_bad_port(static, failures)
    elif what == "port_in_use":
        case_port_in_use(static, failures)
    else:
        print("unknown case", what)
        return 2
    if failures:
        print(f"FAIL gdb {what}: {len(failures)} check(s)")
        return 1
    print(f"PASS gdb {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
