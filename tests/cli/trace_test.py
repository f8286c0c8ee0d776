"""`capsule run --trace` and `capsule trace` (docs/trace.md).

    trace_test.py PROG counts [MACHINE]
        tests/cli/programs/stats_work.c making 1000 raw getpid calls,
        touching 256 anonymous pages and sleeping 5 times, traced on 2 CPUs:
        `capsule trace --summary` says getpid 1000 (0 in a run making none),
        >= 256 anonymous zero-fill faults, >= 5 switches of tid 1 blocked
        (the host's /usr/bin/time -v: the same bounds), nothing lost; in the
        file, each CPU's records are in time order and stamped with that CPU;
        in the decoded lines, tid 1's syscall_enter/syscall_exit alternate
        with the same call (exit_group has no exit), the program's output
        is its own (no trace bytes in stdout or stderr).
    trace_test.py PROG small
        --trace-buffer=4 (85 records a CPU) and 1000 getpid: records are
        lost and counted (written = held + lost, held = capacity), what is
        held decodes whole, and it is the run's end (the last getpid, the
        exit).
    trace_test.py PROG bad_group
        --trace=bogus: the CLI's error, status 2, no VM; the kernel option
        (--cmdline --trace=bogus): status 2 and the kernel's message.
    trace_test.py PROG groups
        --trace=syscall: only syscall events in the file (./capsule-trace.dat
        by default); the summary names the group. With --strace and --stats
        on the same port: the strace lines and the report on stderr, whole,
        and the file decodes with the same getpid count. Without --trace:
        no file.
    trace_test.py PROG block
        sha256sum of a 200000-byte file on an ext4 disk (--disk): the sum
        matches the host's; block_complete reads add up to >= the file's
        size, every block_submit has its block_complete (same sector, size,
        op) after it, all with status ok.
    trace_test.py PROG fsync
        dd conv=fsync and conv=fdatasync onto a read-write ext4 disk: each
        call has a device flush completed between its enter and its exit.
    trace_test.py PROG proc
        busybox sh -c 'busybox true; busybox echo hi; exit 3': a proc_fork
        by pid 1 for each of the two commands, each child's proc_exec and
        proc_exit (status 0) after its fork, and pid 1's proc_exit with
        status 3 last (the CLI's status 3 too).
    trace_test.py PROG net
        curl in the VM fetches 100000 bytes from a python3 http.server on
        the host's 127.0.0.1: net_rx frames add up to >= 100000 bytes, and
        there are net_tx frames (the request, the ACKs).
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "capsule"))
from capsule_cli import trace  # noqa: E402

CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 240
PAGES, SLEEPS, CALLS = 256, 5, 1000


def check(cond, what):
    if not cond:
        print("FAIL:", what)
    return cond


def run(*args, cwd=None):
    cmd = [CAPSULE, *args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                       timeout=TIMEOUT, cwd=cwd)
    print("$", " ".join(cmd), f"-> {r.returncode}")
    if r.stderr:
        print(r.stderr[-3000:])
    return r


def raw_records(path):
    """Each CPU's records in the file's own order (no sorting): {cpu: [(tsc, event, cpu)]}."""
    with open(path, "rb") as f:
        data = f.read()
    pos, out, cur = 16, {}, None
    while pos < len(data):
        ctype, length = struct.unpack_from("<II", data, pos)
        payload = data[pos + 8:pos + 8 + length]
        pos += 8 + length
        if ctype == trace.CPU:
            cur = struct.unpack_from("<I", payload)[0]
            out[cur] = []
        elif ctype == trace.RECORDS:
            cpu, n = struct.unpack_from("<II", payload)
            for i in range(n):
                tsc, ev, rcpu = struct.unpack_from("<QHH", payload, 8 + i * 48)
                out[cpu].append((tsc, ev, rcpu))
    return out


def summary_fields(text):
    calls = {m.group(3): int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+(\d+) (\w+)$", text, re.M)}
    events = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\s+(\d+) ([a-z_]+)$", text, re.M)}
    head = re.search(r"(\d+) records, (\d+) CPUs, (\d+) lost", text)
    return calls, events, head


def case_counts(prog, machine="microvm"):
    ok = True
    with tempfile.TemporaryDirectory() as d:
        dat = os.path.join(d, "t.dat")
        r = run("run", "--machine", machine, "--cpus", "2", "--trace", "--trace-output", dat, prog,
                str(CALLS), str(PAGES), str(SLEEPS))
        ok &= check(r.returncode == 0 and r.stdout == "done\n", f"status {r.returncode}, stdout {r.stdout!r}")
        ok &= check("CAPSULE-TRACE" not in r.stderr and "\0" not in r.stderr, "trace bytes on stderr")
        ok &= check(f"bytes written to {dat}" in r.stderr, "the CLI says where the trace went")
        s = run("trace", "--summary", dat)
        print(s.stdout)
        ok &= check(s.returncode == 0, "capsule trace --summary failed")
        calls, events, head = summary_fields(s.stdout)
        ok &= check(calls.get("getpid") == CALLS, f"getpid {calls.get('getpid')}, expected {CALLS}")
        ok &= check(calls.get("clock_nanosleep", calls.get("nanosleep")) == SLEEPS, "sleeps")
        ok &= check(bool(head) and head.group(3) == "0", "records lost with the default ring")
        ok &= check(bool(head) and head.group(2) == "2", "two CPUs' rings")
        # Faults and switches from the decoded lines.
        lines = run("trace", dat).stdout.splitlines()
        anon = [ln for ln in lines if " page_fault " in ln and "kind=anon" in ln and re.search(r"\s1 page_fault", ln)]
        blocked = [ln for ln in lines if re.search(r"sched_switch\s+prev=1 prev_state=S ", ln)]
        print(f"tid 1: {len(anon)} anonymous faults, {len(blocked)} switches blocked")
        ok &= check(len(anon) >= PAGES, f"anonymous faults of tid 1: {len(anon)}")
        ok &= check(len(blocked) >= SLEEPS, f"blocked switches of tid 1: {len(blocked)}")
        ok &= check(events.get("page_fault", 0) >= PAGES, "page_fault count")
        # Per-CPU order and stamps, as the kernel wrote them.
        for cpu, recs in raw_records(dat).items():
            ok &= check(all(r[2] == cpu for r in recs), f"CPU {cpu}: a record of another CPU")
            ok &= check(all(a[0] <= b[0] for a, b in zip(recs, recs[1:])), f"CPU {cpu}: time goes back")
        # Enter/exit pairs of tid 1.
        sys_lines = run("trace", "--tid", "1", "--events", "syscall", dat).stdout.splitlines()
        pending, pairs = None, 0
        for ln in sys_lines:
            m = re.search(r"(syscall_enter|syscall_exit)\s+(\w+)", ln)
            if not m:
                continue
            if m.group(1) == "syscall_enter":
                ok &= check(pending is None or pending == "execve", f"enter without exit before: {ln}")
                pending = m.group(2)
            else:
                ok &= check(pending == m.group(2), f"exit of {m.group(2)} after enter of {pending}")
                pending, pairs = None, pairs + 1
        ok &= check(pending == "exit_group", f"last call {pending}, expected exit_group (no exit record)")
        ok &= check(pairs >= CALLS + SLEEPS, f"{pairs} pairs")
        # A run making no getpid has none (the C library makes none itself).
        r0 = run("run", "--machine", machine, "--trace=syscall", "--trace-output", dat, prog, "0", "0", "0")
        s0 = run("trace", "--summary", dat)
        ok &= check(r0.returncode == 0 and s0.returncode == 0 and "getpid" not in summary_fields(s0.stdout)[0],
                    "getpid in a run making none")
    if os.path.exists("/usr/bin/time"):
        h = subprocess.run(["/usr/bin/time", "-v", prog, str(CALLS), str(PAGES), str(SLEEPS)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
        hf = dict(re.findall(r"^\t(.+?): (\S+)$", h.stderr, re.M))
        print("host:", hf.get("Minor (reclaiming a frame) page faults"), "minor faults,",
              hf.get("Voluntary context switches"), "voluntary switches")
        ok &= check(int(hf["Minor (reclaiming a frame) page faults"]) >= PAGES, "host minor faults")
        ok &= check(int(hf["Voluntary context switches"]) >= SLEEPS, "host voluntary switches")
    return ok


def case_small(prog):
    ok = True
    with tempfile.TemporaryDirectory() as d:
        dat = os.path.join(d, "t.dat")
        r = run("run", "--trace=syscall,proc", "--trace-buffer", "4", "--trace-output", dat, prog, str(CALLS), "0", "0")
        ok &= check(r.returncode == 0 and r.stdout == "done\n", f"status {r.returncode}")
        t = trace.load(dat)  # raises on anything corrupt
        ring = t.rings[0]
        print("CPU 0:", ring)
        ok &= check(ring["capacity"] == 4096 // 48, f"capacity {ring['capacity']}")
        ok &= check(ring["lost"] > 0 and ring["held"] == ring["capacity"], "nothing lost with a 4 KiB ring")
        ok &= check(ring["written"] == ring["held"] + ring["lost"], "written != held + lost")
        ok &= check(ring["written"] >= 2 * CALLS, f"written {ring['written']} < {2 * CALLS}")
        names = [trace.EVENTS[r[1]][0] for r in t.records]
        ok &= check(names[-1] == "proc_exit", f"last record {names[-1]}")
        ok &= check(all(a[0] <= b[0] for a, b in zip(t.records, t.records[1:])), "time order")
        s = run("trace", "--summary", dat)
        ok &= check(s.returncode == 0 and f"{ring['lost']} lost" in s.stdout, "the summary's lost count")
    return ok


def case_bad_group(prog):
    ok = True
    with tempfile.TemporaryDirectory() as d:
        r = run("run", "--trace=sched,bogus", prog, "0", "0", "0", cwd=d)
        ok &= check(r.returncode == 2, f"status {r.returncode}")
        ok &= check("unknown event group 'bogus'" in r.stderr, "the CLI's message")
        ok &= check(not os.path.exists(os.path.join(d, trace.DEFAULT_FILE)), "a trace file without a run")
        r = run("run", "--cmdline=--trace=bogus", "--verbose", prog, "0", "0", "0", cwd=d)
        ok &= check(r.returncode == 2, f"kernel option: status {r.returncode}")
        ok &= check("--trace=bogus: unknown event group" in r.stderr, "the kernel's message")
        r = run("run", "--trace-buffer", "1", prog, "0", "0", "0", cwd=d)
        ok &= check(r.returncode == 2 and "--trace-buffer" in r.stderr, "--trace-buffer 1")
    return ok


def case_groups(prog):
    ok = True
    with tempfile.TemporaryDirectory() as d:
        r = run("run", "--trace=syscall", prog, "10", "16", "1", cwd=d)
        ok &= check(r.returncode == 0, f"status {r.returncode}")
        t = trace.load(os.path.join(d, trace.DEFAULT_FILE))  # the default file, in the cwd
        kinds = {trace.EVENTS[r[1]][1] for r in t.records}
        ok &= check(kinds == {"syscall"}, f"groups recorded: {kinds}")
        s = run("trace", "--summary", cwd=d)
        ok &= check("groups syscall," in s.stdout and re.search(r"^\s+10\s+0 getpid$", s.stdout, re.M) is not None,
                    "the summary of the default file")
        # The port's text (strace lines, the stats report) and the trace's
        # blocks share capsule.trace: each goes its own way.
        r = run("run", "--strace", "--stats", "--trace=syscall,proc", "--trace-output", "both.dat", prog, "10", "16", "1",
                cwd=d)
        ok &= check(r.returncode == 0 and r.stdout == "done\n", f"with --strace --stats: {r.returncode} {r.stdout!r}")
        ok &= check(r.stderr.count("getpid()") == 10, f"strace's getpid lines: {r.stderr.count('getpid()')}")
        ok &= check("--- end of capsule stats ---" in r.stderr and "+++ exited with 0 +++" in r.stderr,
                    "the stats report and strace's exit line")
        ok &= check("CAPSULE-TRACE" not in r.stderr and "CAPTRACE" not in r.stderr, "trace bytes in the text")
        t = trace.load(os.path.join(d, "both.dat"))
        ok &= check(sum(1 for x in t.records if x[1] == 4 and t.syscalls.get(x[4][0]) == "getpid") == 10,
                    "getpid enters in the file next to --strace")
        os.unlink(os.path.join(d, trace.DEFAULT_FILE))
        r = run("run", prog, "1", "0", "0", cwd=d)
        ok &= check(r.returncode == 0 and not os.path.exists(os.path.join(d, trace.DEFAULT_FILE)),
                    "a trace file without --trace")
    return ok


def decoded(dat, events):
    """(event, {key: value}) of each decoded line of these events."""
    out = []
    for ln in run("trace", "--events", events, dat).stdout.splitlines():
        f = ln.split()
        out.append((f[3], dict(kv.split("=", 1) for kv in f[4:] if "=" in kv)))
    return out


def case_block(prog):
    ok = True
    size = 200000
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        os.mkdir(src)
        blob = os.path.join(src, "blob")
        with open(blob, "wb") as f:
            f.write(os.urandom(size))
        img, dat = os.path.join(d, "disk.img"), os.path.join(d, "t.dat")
        r = run("disk", "create", "--size", "16M", "--from", src, img)
        if not check(r.returncode == 0, "disk create"):
            return False
        r = run("run", "--trace=block", "--trace-output", dat, "--disk", f"{img}:/mnt:ro", "sha256sum", "/mnt/blob")
        host = subprocess.run(["sha256sum", blob], stdout=subprocess.PIPE, text=True).stdout.split()[0]
        ok &= check(r.returncode == 0 and r.stdout.split()[:1] == [host], f"sha256sum in the VM: {r.stdout!r}")
        ev = decoded(dat, "block")
        done = [a for e, a in ev if e == "block_complete"]
        read = sum(int(a["bytes"]) for a in done if a["op"] == "read")
        print(f"{len(ev)} block records, {read} bytes read")
        ok &= check(read >= size, f"reads {read} < {size}")
        ok &= check(all(a["status"] == "ok" for a in done), "a request failed")
        open_reqs = []
        for e, a in ev:
            key = (a["sector"], a["bytes"], a["op"])
            if e == "block_submit":
                open_reqs.append(key)
            elif check(key in open_reqs, f"complete without submit: {key}"):
                open_reqs.remove(key)
            else:
                ok = False
        ok &= check(not open_reqs, f"submits without completion: {open_reqs}")
    return ok


def case_fsync(prog):
    """Debian's dd with conv=fsync, then conv=fdatasync, onto a read-write
    ext4 disk: the call reaches the device, a flush request submitted
    (and completed) between its syscall_enter and syscall_exit; the file
    is on the image (debugfs), e2fsck -fn clean. Before the fix both calls
    returned 0 without touching the file (no flush at all)."""
    ok = True
    with tempfile.TemporaryDirectory() as d:
        img = os.path.join(d, "disk.img")
        r = run("disk", "create", "--size", "16M", img)
        if not check(r.returncode == 0, "disk create"):
            return False
        for call in ("fsync", "fdatasync"):
            dat = os.path.join(d, call + ".dat")
            r = run("run", "--trace=block,syscall", "--trace-output", dat, "--disk", f"{img}:/mnt", "dd",
                    "if=/dev/zero", f"of=/mnt/{call}", "bs=4096", "count=4", f"conv={call}")
            ok &= check(r.returncode == 0, f"dd conv={call}: status {r.returncode}")
            calls, flushed, inside, seen = 0, 0, False, set()
            for ln in run("trace", "--events", "block_complete,syscall_enter,syscall_exit", dat).stdout.splitlines():
                f = ln.split()
                if len(f) < 5:
                    continue
                if f[3] == "syscall_enter" and f[4].startswith(call + "("):
                    calls, inside, seen = calls + 1, True, set()
                elif f[3] == "syscall_exit" and inside and f[4] == call:
                    flushed += "flush" in seen
                    inside = False
                elif f[3] == "block_complete" and inside:
                    seen.add(dict(kv.split("=", 1) for kv in f[4:] if "=" in kv).get("op"))
            print(f"dd conv={call}: {calls} {call} calls, {flushed} with a device flush inside")
            ok &= check(calls == 1 and flushed == 1, f"{call}: {calls} calls, {flushed} reached the device")
        size = subprocess.run(["debugfs", "-R", "stat /fdatasync", img], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout
        ok &= check(re.search(r"Size: 16384\b", size) is not None, f"/fdatasync on the image: {size[:300]!r}")
        fsck = subprocess.run(["e2fsck", "-fn", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ok &= check(fsck.returncode == 0, f"e2fsck -fn: {fsck.stdout[-1000:]}")
    return ok


def case_proc(prog):
    ok = True
    with tempfile.TemporaryDirectory() as d:
        dat = os.path.join(d, "t.dat")
        r = run("run", "--trace=proc", "--trace-output", dat, "busybox", "sh", "-c",
                "busybox true; busybox echo hi; exit 3")
        ok &= check(r.returncode == 3 and r.stdout == "hi\n", f"status {r.returncode}, stdout {r.stdout!r}")
        ev = decoded(dat, "proc")
        for e, a in ev:
            print(e, a)
        forks = [int(a["child"]) for e, a in ev if e == "proc_fork" and a["parent"] == "1"]
        ok &= check(len(forks) >= 2, f"forks by pid 1: {forks}")
        for child in forks:
            mine = [(i, e, a) for i, (e, a) in enumerate(ev) if a.get("pid") == str(child)]
            seq = [e for _, e, _ in mine]
            ok &= check(seq == ["proc_exec", "proc_exit"], f"pid {child}: {seq}")
            ok &= check(all(a.get("status", "0") == "0" for _, _, a in mine), f"pid {child}'s status")
            fork_at = next(i for i, (e, a) in enumerate(ev) if e == "proc_fork" and a["child"] == str(child))
            ok &= check(all(i > fork_at for i, _, _ in mine), f"pid {child}: events before its fork")
        ok &= check(bool(ev) and ev[-1] == ("proc_exit", {"pid": "1", "status": "3"}), f"last: {ev[-1:]}")
    return ok


def case_net(prog):
    import http.server
    import socketserver
    import threading
    ok = True
    size = 100000
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "page"), "wb") as f:
            f.write(os.urandom(size))
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=d, **k)  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        with socketserver.TCPServer(("127.0.0.1", 0), handler) as srv:
            port = srv.server_address[1]
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            dat = os.path.join(d, "t.dat")
            r = run("run", "--trace=net", "--trace-output", dat, "curl", "-sS", "-o", "/dev/null", "-w",
                    "%{size_download}\n", f"http://10.0.2.2:{port}/page")
            srv.shutdown()
        ok &= check(r.returncode == 0 and r.stdout.strip() == str(size), f"curl: {r.stdout!r}")
        ev = decoded(dat, "net")
        rx = sum(int(a["len"]) for e, a in ev if e == "net_rx")
        tx = sum(1 for e, _ in ev if e == "net_tx")
        print(f"net_rx {rx} bytes, {tx} net_tx frames")
        ok &= check(rx >= size, f"net_rx bytes {rx} < {size}")
        ok &= check(tx >= 1, "no net_tx")
    return ok


def main():
    prog, what = sys.argv[1], sys.argv[2]
    cases = {"counts": case_counts, "small": case_small, "bad_group": case_bad_group, "groups": case_groups,
             "block": case_block, "fsync": case_fsync, "net": case_net, "proc": case_proc}
    ok = cases[what](prog, *sys.argv[3:])
    print("PASS" if ok else "FAIL", "trace", what, *sys.argv[3:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
