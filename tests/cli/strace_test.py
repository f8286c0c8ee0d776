"""`capsule run --strace` against the host's strace (docs/strace.md).

    strace_test.py SEQ seq      tests/cli/programs/strace_seq.c traced in the
                                VM (--strace -o FILE) and by `strace -f -o
                                FILE` on the host: the same lines from the
                                program's first open to "+++ exited with 0
                                +++" (flags by name, strings cut at 32 bytes,
                                stat/timespec/sigaction/sigset/iovec/sockaddr
                                contents, errno names and texts, and the bad
                                pointers: the address and "= -1 EFAULT (Bad
                                address)")
    strace_test.py SEQ debian   Debian's cat on a file, the same way, from
                                its open of the file to the end
    strace_test.py SEQ filter   --strace-filter=openat,close prints those
                                calls only (and the same as the host's
                                `strace -e trace=openat,close`), and
                                %file,%network the same as the host's; a
                                bad SET stops the boot with status 2 and a
                                message
    strace_test.py SEQ signal   SIGUSR1 to itself: kill, the "--- SIGUSR1
                                {si_signo=...} ---" line and rt_sigreturn's
                                restored mask, as on the host (pids aside)
    strace_test.py SEQ summary  `strace_seq getpid` (1000 getpid calls):
                                --strace-summary's table says 1000 getpid
                                calls, as the host's `strace -c` does
    strace_test.py SEQ readme   the README's example prints "hi" on stdout
                                and the decoded trace on stderr

Normalisation, the differences by design: the host's "PID  " prefixes,
the alignment blanks before " = ", and addresses (0x and 5+ hex digits:
mmap results, handlers; small bad pointers like 0x8 stay). The calls
before the program's own first open are the C library's start-up, which
differs between the kernels (the VM starts the program without execve;
rseq is ENOSYS), and are not compared. For cat, the descriptors 1 and 2
are the console in the VM and a pipe on the host: their fstat lines
(st_mode) are dropped.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 240
ADDR = re.compile(r"0x[0-9a-f]{5,}")


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    print("$", " ".join(cmd), f"-> {r.returncode}")
    return r


def check(cond, what):
    if not cond:
        print("FAIL:", what)
    return cond


def normalise(text):
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\d+ +", "", line)          # strace -f -o: "PID  "
        line = re.sub(r"^\[pid +\d+\] ", "", line)  # "[pid N] "
        line = re.sub(r"\) +(= )", r") \1", line)   # column alignment
        line = ADDR.sub("ADDR", line)
        out.append(line)
    return out


def from_line(lines, needle):
    for i, line in enumerate(lines):
        if needle in line:
            return lines[i:]
    return []


def compare(host, guest, what):
    if host == guest and host:
        print(f"{what}: {len(host)} lines equal")
        return True
    print(f"FAIL: {what}: the traces differ")
    for i in range(max(len(host), len(guest))):
        h = host[i] if i < len(host) else "<none>"
        g = guest[i] if i < len(guest) else "<none>"
        print(("   " if h == g else "!! ") + f"host:  {h}")
        if h != g:
            print(f"!! guest: {g}")
    return False


def traces(d, argv, host_opts=(), guest_opts=()):
    """(host lines, guest lines, guest result) of argv."""
    host_file, guest_file = os.path.join(d, "host.trace"), os.path.join(d, "guest.trace")
    h = run(["strace", "-f", *host_opts, "-o", host_file, *argv])
    g = run([CAPSULE, "run", *guest_opts, "-o", guest_file, *argv])
    sys.stdout.write("guest stderr: " + g.stderr)
    check(h.returncode == g.returncode, f"status: host {h.returncode}, guest {g.returncode}")
    with open(host_file) as f:
        host = normalise(f.read())
    guest = []
    if check(os.path.exists(guest_file), "no trace file"):
        with open(guest_file) as f:
            guest = normalise(f.read())
    return host, guest, g


def seq_path():
    # A file in /tmp, which the VM has too (the program removes it).
    return f"/tmp/capsule-strace-seq-{os.getpid()}.txt"


def case_seq(prog, d):
    path = seq_path()
    host, guest, g = traces(d, [prog, path], guest_opts=["--strace"])
    ok = check(g.returncode == 0, "the program failed in the VM")
    ok &= check(not any("exited with" in line or "openat(" in line for line in g.stderr.splitlines()),
                "the trace went to stderr with -o")
    host, guest = from_line(host, f'openat(AT_FDCWD, "{path}"'), from_line(guest, f'openat(AT_FDCWD, "{path}"')
    for must in ('read(3, 0x8, 16) = -1 EFAULT (Bad address)', "openat(AT_FDCWD, 0x1, O_RDONLY) = -1 EFAULT (Bad address)"):
        ok &= check(must in guest, f"no line {must!r}")
    return ok & compare(host, guest, "strace_seq")


def case_debian(prog, d):
    cat = shutil.which("cat")
    path = os.path.join(d, "data.txt")
    with open(path, "w") as f:
        f.write("a line for cat\n" * 3)
    host, guest, g = traces(d, [cat, path], guest_opts=["--strace", "--add", f"{path}:{path}"])
    ok = check(g.returncode == 0 and g.stdout == "a line for cat\n" * 3, "cat's output in the VM")

    def keep(lines):
        lines = from_line(lines, f'openat(AT_FDCWD, "{path}"')
        return [x for x in lines if not re.match(r'(newfstatat|fstat)\([12], ', x)]
    return ok & compare(keep(host), keep(guest), "cat")


def case_filter(prog, d):
    path = seq_path()
    host, guest, g = traces(d, [prog, path], host_opts=["-e", "trace=openat,close"],
                            guest_opts=["--strace-filter=openat,close"])
    ok = check(g.returncode == 0, "the program failed in the VM")
    ok &= check(all(re.match(r"(openat|close)\(|\+\+\+ ", x) for x in guest), "a call outside the filter")
    ok &= compare(from_line(host, f'openat(AT_FDCWD, "{path}"'), from_line(guest, f'openat(AT_FDCWD, "{path}"'), "filtered")
    # Classes, as strace defines them: the host's -e trace=%file,%network.
    host, guest, g = traces(d, [prog, path], host_opts=["-e", "trace=%file,%network"],
                            guest_opts=["--strace-filter=%file,%network"])
    ok &= check(g.returncode == 0, "the program failed in the VM (classes)")
    ok &= check(any(x.startswith("connect(") for x in guest) and any(x.startswith("unlink(") for x in guest),
                "%file,%network: no unlink or connect line")
    ok &= check(not any(re.match(r"(write|close|mmap)\(", x) for x in guest), "%file,%network: a call outside")
    ok &= compare(from_line(host, f'openat(AT_FDCWD, "{path}"'), from_line(guest, f'openat(AT_FDCWD, "{path}"'),
                  "%file,%network")
    # A name that is no system call: the kernel says so (its log: --verbose).
    bad = run([CAPSULE, "run", "--verbose", "--strace-filter=openat,nosuchcall", prog, path])
    ok &= check(bad.returncode == 2, f"a bad filter: status {bad.returncode}, expected 2")
    ok &= check("capsule: --strace-filter=openat,nosuchcall: unknown system call" in bad.stderr,
                "a bad filter: no message naming it")
    return ok


def case_signal(prog, d):
    host, guest, g = traces(d, [prog, "signal"], guest_opts=["--strace"])
    ok = check(g.returncode == 0, "the program failed in the VM")

    def pids(lines):
        # The pid differs by design (1 in the VM): kill's first argument, si_pid.
        lines = from_line(lines, "kill(")
        return [re.sub(r"(kill\(|si_pid=)\d+", r"\1PID", x) for x in lines]
    guest_n = pids(guest)
    ok &= check("--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=PID, si_uid=0} ---" in guest_n,
                "no signal line")
    return ok & compare(pids(host), guest_n, "signal")


def summary_rows(text):
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)$", line)
        if m:
            rows[m.group(3)] = (int(m.group(1)), int(m.group(2) or 0))
    return rows


def case_summary(prog, d):
    host_file, guest_file = os.path.join(d, "host.sum"), os.path.join(d, "guest.sum")
    run(["strace", "-c", "-o", host_file, prog, "getpid"])
    g = run([CAPSULE, "run", "--strace-summary", "-o", guest_file, prog, "getpid"])
    with open(host_file) as f:
        host = summary_rows(f.read())
    with open(guest_file) as f:
        text = f.read()
    print(text)
    guest = summary_rows(text)
    ok = check(g.returncode == 0, "the program failed")
    ok &= check(host.get("getpid") == (1000, 0), f"host: getpid {host.get('getpid')}")
    ok &= check(guest.get("getpid") == (1000, 0), f"guest: getpid {guest.get('getpid')}, expected 1000 calls")
    ok &= check("total" in guest and guest["total"][0] >= 1000, "no total row")
    ok &= check("getpid(" not in text, "call lines without --strace")
    return ok


def case_readme(prog, d):
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        return None
    r = run([CAPSULE, "run", "--strace", busybox, "echo", "hi"])
    sys.stdout.write(r.stderr)
    ok = check(r.returncode == 0 and r.stdout == "hi\n", "busybox echo hi: stdout")
    ok &= check(re.search(r'^write\(1, "hi\\n", 3\) += 3$', r.stderr, re.M) is not None, "no decoded write line")
    ok &= check("+++ exited with 0 +++" in r.stderr, "no exit line")
    return ok


def main():
    prog, what = sys.argv[1], sys.argv[2]
    if not shutil.which("strace"):
        print("SKIP: no strace on the host")
        return 77
    d = tempfile.mkdtemp(prefix="capsule-strace-test-")
    try:
        ok = globals()[f"case_{what}"](prog, d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if ok is None:
        print("SKIP")
        return 77
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
