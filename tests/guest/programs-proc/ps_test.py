#!/usr/bin/env python3
"""ps and top see every process (docs/pseudo-fs.md "procfs"): a shell starts
two background sleeps and runs ps/top; each listing must show the shell,
both sleeps with the shell as their parent and their commands, and the
lister itself. The same script runs on the host first, where the same
checks must hold (with the host's pids), which shows the checks are
Linux's.

Cases: busybox (Debian's static busybox: sh, sleep and ps applets),
procps (dash running Debian's ps -ef, ps aux and top -bn1, dynamic).

Usage: ps_test.py --kernel build/capsule.elf --case busybox|procps [--cpus N]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "dynamic"))
import dynamic_test  # noqa: E402

SKIP = 77
# Both children have become sleep before the listing (a bounded wait: a
# fork runs the shell's code until it execs).
SCRIPT_HEAD = ("sleep 30 & A=$!; sleep 31 & B=$!; i=0; while [ $i -lt 200 ]; do read a < /proc/$A/comm;"
               " read b < /proc/$B/comm; [ \"$a$b\" = sleepsleep ] && break; i=$((i+1)); sleep 0.05; done;"
               " echo pids $$ $A $B; ")
SCRIPT_TAIL = "; kill $A $B; wait; echo end"


def pids_of(out):
    m = re.search(r"^pids (\d+) (\d+) (\d+)$", out, re.M)
    return tuple(int(x) for x in m.groups()) if m else None


def rows(section, pid_col, min_cols):
    """Rows of a listing split on blanks: {pid: fields}."""
    found = {}
    for line in section.splitlines():
        f = line.split()
        if len(f) >= min_cols and f[pid_col].isdigit():
            found[int(f[pid_col])] = f
    return found


def check_sleeps(table, shell, a, b, cmd_col, ppid_col=None, what=""):
    problems = []
    for pid, secs in ((a, "30"), (b, "31")):
        r = table.get(pid)
        if not r:
            problems.append(f"{what}: no row for sleep {secs} (pid {pid})")
            continue
        cmd = " ".join(r[cmd_col:])
        if not re.search(rf"(^|/)sleep {secs}$", cmd):
            problems.append(f"{what}: pid {pid} runs {cmd!r}, expected 'sleep {secs}'")
        if ppid_col is not None and int(r[ppid_col]) != shell:
            problems.append(f"{what}: pid {pid} has parent {r[ppid_col]}, expected the shell {shell}")
    if shell not in table:
        problems.append(f"{what}: no row for the shell (pid {shell})")
    return problems


def check_busybox(out):
    p = pids_of(out)
    if not p:
        return ["no 'pids' line"]
    shell, a, b = p
    # PID USER [TIME] COMMAND
    table = rows(out, 0, 3)
    problems = check_sleeps(table, shell, a, b, 2 if not re.search(r"^\s*PID\s+USER\s+TIME", out, re.M) else 3,
                            what="busybox ps")
    # ps runs in a fork of the shell: "{ps} <the shell's command line>".
    if not any(re.search(r"(^|\s|/|\{)ps(\}|$)", " ".join(r[2:])) for pid, r in table.items() if pid not in p):
        problems.append("busybox ps: no row for ps itself")
    return problems


def check_procps(out):
    p = pids_of(out)
    if not p:
        return ["no 'pids' line"]
    shell, a, b = p
    parts = out.split("===\n")
    if len(parts) < 3:
        return ["not three listings"]
    ef, aux, top = parts[0], parts[1], parts[2]
    problems = []
    # ps -ef: UID PID PPID C STIME TTY TIME CMD
    t = rows(ef, 1, 8)
    problems += check_sleeps(t, shell, a, b, 7, 2, "ps -ef")
    if not any(r[7:] == ["ps", "-ef"] and int(r[2]) == shell for r in t.values()):
        problems.append("ps -ef: no row for 'ps -ef' under the shell")
    # ps aux: USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND
    t = rows(aux, 1, 11)
    problems += check_sleeps(t, shell, a, b, 10, None, "ps aux")
    for pid in (a, b):
        if pid in t and not t[pid][7].startswith("S"):
            problems.append(f"ps aux: sleep {pid} in state {t[pid][7]}, expected S")
    # top -bn1: PID USER PR NI VIRT RES SHR S %CPU %MEM TIME+ COMMAND
    m = re.search(r"^Tasks:\s+(\d+) total", top, re.M)
    if not m or int(m.group(1)) < 4:
        problems.append(f"top: Tasks line {m.group(0) if m else None!r}, expected at least 4")
    t = rows(top, 0, 12)
    for pid in (shell, a, b):
        if pid not in t:
            problems.append(f"top: no row for pid {pid}")
        elif pid != shell and t[pid][11] != "sleep":
            problems.append(f"top: pid {pid} is {t[pid][11]!r}, expected sleep")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--case", required=True, choices=["busybox", "procps"])
    ap.add_argument("--cpus", default="1")
    ap.add_argument("--timeout", type=float, default=150)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="capsule-ps-")
    try:
        extra = []
        if a.case == "busybox":
            shell = "/bin/busybox"
            if not os.path.exists(shell) or dynamic_test.read_interp(shell):
                print("Debian's static busybox is not installed: skipped")
                return SKIP
            script = SCRIPT_HEAD + "ps" + SCRIPT_TAIL
            argv = [shell, "sh", "-c", script]
            check = check_busybox
            no_libs = True
        else:
            shell = shutil.which("dash")
            progs = [shutil.which(n) for n in ("sleep", "ps", "top", "kill")]
            if not shell or not all(progs[:3]):
                print("dash, sleep, ps or top is not installed: skipped")
                return SKIP
            script = SCRIPT_HEAD + "ps -ef; echo ===; ps aux; echo ===; TERM=dumb top -bn1 -w 200 2>&1" + SCRIPT_TAIL
            argv = [shell, "-c", script]
            for prog in progs[:3]:
                prog = os.path.abspath(prog)
                extra += [(os.path.realpath(prog), prog)] + dynamic_test.libraries(prog)
            # top needs a terminfo entry even in batch mode.
            extra += [(os.path.realpath("/lib/terminfo/d/dumb"), "/lib/terminfo/d/dumb")]
            check = check_procps
            no_libs = False
        env = {"PATH": "/usr/bin:/bin", "TERM": "dumb", "HOME": "/"}
        h = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=60)
        host_problems = check(h.stdout.decode(errors="replace"))
        if host_problems:
            print("the checks fail on the host (the test is wrong): " + "; ".join(host_problems))
            print(h.stdout.decode(errors="replace")[-3000:])
            return 1
        status, problem, out = dynamic_test.run_guest(a.kernel, work, shell, argv, extra, a.timeout, a.cpus, "512M",
                                                      no_libs=no_libs)
        text = out.decode(errors="replace")
        problems = [problem] if problem else []
        if status != 0:
            problems.append(f"exit status {status}")
        problems += check(text)
        if problems:
            print("FAILED: " + "; ".join(problems))
            print(text[-4000:])
            return 1
        print(f"ok: {a.case} on {a.cpus} CPUs, as on the host")
        print(text[-4000:])
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
