#!/usr/bin/env python3
"""An interactive shell's job control on a terminal (docs/process.md "Stop
and continue"): Debian's bash (--norc -i) on a pseudo-terminal, first on
the host, then in the VM through the CLI (`capsule run`, whose console is
then the terminal), is driven as a user would: a background sleep, jobs,
kill -STOP/-CONT, kill, wait, and ^Z on a foreground job, bg, jobs,
kill -STOP, fg, ^C.
The job lines bash prints ("[1]+  Stopped  sleep 30", ...) must be the
same in the VM as on the host.

Every step waits for what it expects with a bound (a state change is asked
for again with `jobs` until it shows, at most STEP_TIMEOUT); nothing is
proven by sleeping.

Usage: shell_test.py --capsule ./capsule [--cpus N]
"""
import argparse
import os
import pty
import re
import select
import shutil
import signal
import sys
import time

STEP_TIMEOUT = 60
SKIP = 77
# The foreground job says when it is continued (a busy loop, so that the
# trap runs at once): after fg, "cont" means it has the terminal, and ^Z
# is sent then, not guessed. The trap only counts; the loop prints "cont"
# once the trap has finished: bash clears a signal's pending count when
# its trap ends, so a stop and continue that land inside a running trap
# ("echo cont" written, the trap not yet finished) lose the second trap,
# on Linux too.
FG = "(n=0; trap 'n=$((n+1))' CONT; echo started; m=0; while :; do if [ $n != $m ]; then m=$n; echo cont; fi; done)"
JOB = r"\( n=0; trap .*"


class Pty:
    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.out = b""
        self.mark = 0  # where the next expect looks, in the normalized output

    def send(self, data):
        os.write(self.fd, data)

    def pump(self, until):
        rd, _, _ = select.select([self.fd], [], [], max(0.0, min(0.5, until - time.time())))
        if rd:
            try:
                d = os.read(self.fd, 4096)
            except OSError:
                d = b""
            if not d:
                return False
            self.out += d
        return True

    @staticmethod
    def normalize(raw):
        # Typed input, echo and prompts interleave with output; in the VM
        # more so, as the CLI merges the guest's stdout and stderr (bash's
        # prompt and job lines) from two virtio-console ports and the
        # kernel's echo comes on stdout's (docs/console.md): the prompts
        # ("$ ") and the echo of ^Z and ^C are dropped before matching.
        return raw.decode(errors="replace").replace("\r", "").replace("^Z", "").replace("^C", "").replace("$ ", "")

    def expect(self, regex, timeout=STEP_TIMEOUT, resend=None, every=2.0):
        """Waits until regex matches the output after the last match;
        resend (bytes) is written again every `every` seconds meanwhile."""
        end = time.time() + timeout
        nxt = time.time() + every
        rx = re.compile(regex, re.M)
        while time.time() < end:
            text = self.normalize(self.out)
            m = rx.search(text, self.mark)
            if m:
                self.mark = m.end()
                return m.group(0)
            if resend is not None and time.time() >= nxt:
                self.send(resend)
                nxt = time.time() + every
            if not self.pump(min(end, nxt)):
                break
        raise TimeoutError(f"waited {timeout}s for {regex!r}")

    def finish(self, timeout=STEP_TIMEOUT):
        end = time.time() + timeout
        while time.time() < end:
            done, st = os.waitpid(self.pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(st)
            self.pump(time.time() + 0.5)
        os.kill(self.pid, signal.SIGKILL)
        _, st = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(st)


def job(state, cmd):
    return r"^\[1\]\+\s+" + state + r"\s+" + re.escape(cmd) + r"( &)?$"


def session(argv, env):
    """The dialogue; returns (job lines seen, transcript, exit status, error)."""
    p = Pty(argv, env)
    seen = []

    def step(send, regex, resend=None, every=2.0):
        if send is not None:
            p.send(send)
        seen.append(re.sub(r"\s+", " ", p.expect(regex, resend=resend, every=every)).strip())

    err = None
    try:
        # The shell reads (the VM boots first; input typed before the
        # shell set up the terminal may be flushed: typed again).
        p.send(b"echo ready\n")
        p.expect(r"^ready$", timeout=120, resend=b"echo ready\n", every=5.0)
        time.sleep(0.5)
        p.pump(time.time() + 0.5)
        p.mark = len(p.normalize(p.out))  # the other "ready"s
        step(b"sleep 30 &\n", r"^\[1\] \d+$")
        seen[-1] = "[1] PID"
        step(b"jobs\n", job("Running", "sleep 30"))
        step(b"kill -STOP %1; echo sent\n", r"^sent$")
        step(b"jobs\n", job("Stopped", "sleep 30") + r"|^\[1\]\+\s+Stopped \(signal\)\s+sleep 30$",
             resend=b"jobs\n")
        step(b"kill -CONT %1; echo sent\n", r"^sent$")
        step(b"jobs\n", job("Running", "sleep 30"), resend=b"jobs\n")
        step(b"kill %1\n", r"^\[1\]\+\s+Terminated\s+sleep 30$", resend=b"\n")
        step(b"wait; jobs; echo none\n", r"^none$")
        # ^Z once the job runs in the foreground (it prints "started" then).
        step(FG.encode() + b"\n", r"^started$")
        step(b"\x1a", r"^\[1\]\+\s+Stopped\s+" + JOB + "$")
        step(b"bg\n", r"^\[1\]\+ " + JOB + "$")
        step(None, r"^cont$")
        step(b"jobs\n", r"^\[1\]\+\s+Running\s+" + JOB + "$", resend=b"jobs\n")
        # fg continues a stopped job (a running one gets no SIGCONT).
        step(b"kill -STOP %1; echo sent\n", r"^sent$")
        step(b"jobs\n", r"^\[1\]\+\s+Stopped\s+" + JOB + "$", resend=b"jobs\n")
        step(b"fg\n", r"^cont$")  # continued, and the terminal is its
        # ^C ends it (SIGINT to the foreground group); no job is left.
        step(b"\x03", r"^none$", resend=b"jobs; echo none\n")
        p.send(b"exit\n")
    except TimeoutError as e:
        err = str(e)
    status = p.finish(30 if err is None else 1)
    return seen, p.out.decode(errors="replace").replace("\r", ""), status, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capsule", required=True)
    ap.add_argument("--cpus", default="1")
    ap.add_argument("--host-only", action="store_true")
    a = ap.parse_args()
    bash, sleep = shutil.which("bash"), shutil.which("sleep")
    if not bash or not sleep:
        print("bash or sleep is not installed: skipped")
        return SKIP
    bash, sleep = os.path.realpath(bash), os.path.realpath(sleep)
    env = {"PATH": "/usr/bin:/bin", "TERM": "dumb", "HOME": "/", "PS1": "$ ", "LANG": "C"}
    shell_args = ["--norc", "--noprofile", "--noediting", "-i"]
    results = {}
    runs = (("host", [bash] + shell_args),
            ("vm", [os.path.abspath(a.capsule), "run", "--accel", "tcg", "--cpus", a.cpus, "--mem", "512M",
                    "--add", f"{sleep}:/usr/bin/sleep"] + sum((["--env", f"{k}={v}"] for k, v in env.items()), [])
             + [bash] + shell_args))
    ok = True
    for where, argv in runs[:1] if a.host_only else runs:
        seen, text, status, err = session(argv, env)
        results[where] = seen
        good = err is None and status == 0
        print(f"{'ok' if good else 'FAILED'} {where}: status {status}{', ' + err if err else ''}")
        print("  " + "\n  ".join(seen))
        if not good:
            print(text[-4000:])
        ok &= good
        if where == "host" and not good:
            print("the dialogue fails on the host: the test is wrong")
            return 1
    if ok and not a.host_only and results["host"] != results["vm"]:
        print("FAILED: the VM's job lines differ from the host's")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
