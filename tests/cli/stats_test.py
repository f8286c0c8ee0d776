"""`capsule run --stats` (docs/stats.md).

    stats_test.py PROG counts   tests/cli/programs/stats_work.c making 1000
                                raw getpid calls, touching 256 anonymous
                                pages and sleeping 5 times: the report says
                                getpid 1000 (none in a run making 0: the C
                                library makes no getpid of its own),
                                anonymous zero-fill faults >= 256,
                                voluntary switches >= 5, max resident set
                                >= 1024 KiB; the host's `/usr/bin/time -v`
                                and `strace -c` of the same program agree
                                on the same bounds and on 1000 getpid; the
                                report is on stderr, never on stdout
    stats_test.py PROG sigusr1  SIGUSR1 to the CLI while the program waits
                                for a line: a "running" report on stderr
                                (no getpid yet), the program is not
                                signalled, goes on and exits 0 with the
                                final report (getpid 1000)

Every wait is bounded (TIMEOUT); no timing is checked.
"""
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 240
PAGES, SLEEPS, CALLS = 256, 5, 1000


def check(cond, what):
    if not cond:
        print("FAIL:", what)
    return cond


def reports(text):
    """Each report as (header, {label: value}, {syscall: calls})."""
    out = []
    for m in re.finditer(r"--- capsule stats: (.*?) ---\n(.*?)--- end of capsule stats ---", text, re.S):
        fields, calls = {}, {}
        for line in m.group(2).splitlines():
            f = re.match(r"^\t(.+?): (\S+)$", line)
            if f:
                fields[f.group(1)] = f.group(2)
            c = re.match(r"^\t\s*(\d+)\s+(\d+)\s+(\d+) (\w+)$", line)
            if c:
                calls[c.group(4)] = int(c.group(1))
        out.append((m.group(1), fields, calls))
    return out


def run_vm(*args):
    cmd = [CAPSULE, "run", "--stats", *args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    print("$", " ".join(cmd), f"-> {r.returncode}")
    print(r.stderr)
    return r


def case_counts(prog):
    ok = True
    r = run_vm(prog, str(CALLS), str(PAGES), str(SLEEPS))
    ok &= check(r.returncode == 0 and r.stdout == "done\n", f"status {r.returncode}, stdout {r.stdout!r}")
    ok &= check("capsule stats" not in r.stdout, "the report went to stdout")
    reps = reports(r.stderr)
    if not check(len(reps) == 1 and reps[0][0] == "pid 1 exited with 0", f"reports: {[h for h, _, _ in reps]}"):
        return False
    _, f, calls = reps[0]
    ok &= check(calls.get("getpid") == CALLS, f"getpid {calls.get('getpid')}, expected {CALLS}")
    ok &= check(int(f["Page faults, anonymous zero-fill"]) >= PAGES, "anonymous faults")
    ok &= check(int(f["Minor (reclaiming a frame) page faults"]) >= PAGES, "minor faults")
    ok &= check(int(f["Voluntary context switches"]) >= SLEEPS, "voluntary switches")
    ok &= check(int(f["Maximum resident set size (kbytes)"]) >= PAGES * 4, "max resident set")
    ok &= check(int(f["Kernel peak memory used (kbytes)"]) >= PAGES * 4, "kernel peak")
    ok &= check(int(f["System calls"]) >= CALLS + SLEEPS, "system calls total")
    ok &= check(calls.get("clock_nanosleep", calls.get("nanosleep")) == SLEEPS, "sleeps")
    for k in ("Elapsed (wall clock) time (seconds)", "User time (seconds)", "System time (seconds)"):
        ok &= check(bool(re.match(r"^\d+\.\d{6}$", f.get(k, ""))), f"{k}: {f.get(k)}")
    # None of the C library's own: a run making 0 calls has no getpid row.
    r0 = run_vm(prog, "0", str(PAGES), str(SLEEPS))
    reps0 = reports(r0.stderr)
    ok &= check(r0.returncode == 0 and len(reps0) == 1 and "getpid" not in reps0[0][2], "getpid in a run making 0")
    # The host: the same bounds by /usr/bin/time -v, 1000 getpid by strace -c.
    if os.path.exists("/usr/bin/time"):
        h = subprocess.run(["/usr/bin/time", "-v", prog, str(CALLS), str(PAGES), str(SLEEPS)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
        hf = dict(re.findall(r"^\t(.+?): (\S+)$", h.stderr, re.M))
        print("host:", {k: hf.get(k) for k in ("Minor (reclaiming a frame) page faults", "Voluntary context switches",
                                               "Maximum resident set size (kbytes)")})
        ok &= check(int(hf["Minor (reclaiming a frame) page faults"]) >= PAGES, "host minor faults")
        ok &= check(int(hf["Voluntary context switches"]) >= SLEEPS, "host voluntary switches")
        ok &= check(int(hf["Maximum resident set size (kbytes)"]) >= PAGES * 4, "host max resident set")
    if os.path.exists("/usr/bin/strace"):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "sum")
            subprocess.run(["strace", "-c", "-o", out, prog, str(CALLS), "0", "0"], stdout=subprocess.DEVNULL,
                           timeout=TIMEOUT)
            with open(out) as fh:
                m = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?getpid$", fh.read(), re.M)
            ok &= check(bool(m) and int(m.group(1)) == CALLS, "host strace -c: getpid")
    return ok


def case_sigusr1(prog):
    cmd = [CAPSULE, "run", "--stats", prog, str(CALLS), "64", "2", "pause"]
    print("$", " ".join(cmd))
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = bytearray()

    def drain():
        while True:
            chunk = p.stderr.read1(65536)
            if not chunk:
                return
            err.extend(chunk)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    ok = True
    try:
        out = b""
        deadline = time.monotonic() + TIMEOUT
        while b"ready\n" not in out and time.monotonic() < deadline:
            rd, _, _ = select.select([p.stdout], [], [], 1)
            if rd:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
        if not check(b"ready\n" in out, f"no 'ready' from the program: {out!r} {bytes(err)!r}"):
            return False
        p.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 60
        while b"end of capsule stats" not in err and time.monotonic() < deadline:
            time.sleep(0.2)
        ok &= check(b"end of capsule stats" in err, "no report after SIGUSR1")
        p.stdin.write(b"go\n")
        p.stdin.flush()
        p.stdin.close()
        out += p.stdout.read()
        p.wait(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    t.join(10)
    text = err.decode(errors="replace")
    print(text)
    ok &= check(p.returncode == 0, f"status {p.returncode}")
    ok &= check(out == b"ready\ndone\n", f"stdout {out!r}")
    reps = reports(text)
    ok &= check([h for h, _, _ in reps] == ["pid 1 running", "pid 1 exited with 0"], f"reports {[h for h, _, _ in reps]}")
    if len(reps) == 2:
        ok &= check("getpid" not in reps[0][2], "getpid before the program made any")
        ok &= check(reps[1][2].get("getpid") == CALLS, "getpid at exit")
    return ok


def main():
    prog, what = sys.argv[1], sys.argv[2]
    ok = {"counts": case_counts, "sigusr1": case_sigusr1}[what](prog)
    print("PASS" if ok else "FAIL", "stats", what)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
