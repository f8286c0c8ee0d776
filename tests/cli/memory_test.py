"""Too little memory fails with one clear line and a documented status
(docs/cli.md "Too little memory"), never silently or with a dead guest:

    memory_test.py TOUCH_MEM fault  a program touching more than the VM
                                    has is killed: 137 and the kernel's
                                    "out of memory serving a page fault"
                                    line, whether its stores or the kernel's
                                    copies (read() of /dev/zero) found no
                                    page; with enough memory it prints what
                                    it prints on the host, status 0
    memory_test.py TOUCH_MEM boot   --mem below the kernel plus the image:
                                    status 2 and the CLI's line naming the
                                    --mem that boots, before any VM; at that
                                    size python3 boots and says it is out of
                                    memory (126 starting it, or 137 if it
                                    started), never a silent status

TOUCH_MEM is tests/cli/programs/touch_mem.c built static.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 240
OOM_LINE = re.compile(r"^capsule: out of memory (serving a page fault at 0x[0-9a-f]+ in process \d+ \(\S*\)|starting \S+) "
                      r"\(guest memory (\d+) MiB, \d+ KiB free\): .*; run with more memory, e\.g\. --mem (\d+)M$",
                      re.M)


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    print("$", " ".join(cmd), f"-> {r.returncode}")
    sys.stdout.write(r.stdout)
    sys.stdout.write("stderr: " + r.stderr)
    return r


def check(cond, what):
    if not cond:
        print("FAIL:", what)
    return cond


def oom_line(r, guest_mib, kind):
    m = OOM_LINE.search(r.stderr)
    if not check(m, f"no out-of-memory line on stderr ({kind})"):
        return False
    ok = check(m.group(1).startswith(kind), f"the line says {m.group(1)!r}, expected {kind}")
    ok &= check(int(m.group(2)) == guest_mib, f"guest memory {m.group(2)} MiB, expected {guest_mib}")
    ok &= check(int(m.group(3)) > guest_mib, "the --mem suggested is not larger")
    return ok


def main():
    prog, what = sys.argv[1], sys.argv[2]
    ok = True
    if what == "fault":
        host = run([prog, "8"])
        ok &= check(host.returncode == 0 and host.stdout == "touched 8 MiB\n", "the host run")
        r = run([CAPSULE, "run", "--mem", "64M", prog, "8"])
        ok &= check(r.returncode == 0 and r.stdout == host.stdout, "the VM with enough memory differs from the host")
        ok &= check("out of memory" not in r.stderr, "an out-of-memory line without lack of memory")
        for mode in ([], ["read"]):  # its own stores, then the kernel's copies (read from /dev/zero)
            if mode:
                host = run([prog, "8"] + mode)
                ok &= check(host.returncode == 0 and host.stdout == "touched 8 MiB\n", "the host run (read)")
            r = run([CAPSULE, "run", "--mem", "32M", prog, "64"] + mode)
            ok &= check(r.returncode == 137, f"status {r.returncode}, expected 137 (SIGKILL)")
            ok &= check("touched" not in r.stdout and "read of" not in r.stdout, "the program went on")
            ok &= oom_line(r, 32, "serving a page fault")
    elif what == "boot":
        python = "/usr/bin/python3"  # Debian's, as the other guest tests
        r = run([CAPSULE, "run", "--mem", "16M", python, "-c", "print(1)"])
        ok &= check(r.returncode == 2, f"status {r.returncode}, expected 2")
        m = re.search(r"^capsule: --mem 16M is too small to boot this image: .* need at least (\d+)M", r.stderr, re.M)
        out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"capsule-memory-test-{os.getpid()}")
        b = run([CAPSULE, "build", "--mem", "16M", python, "-c", "print(1)", "-o", out])
        ok &= check(b.returncode == 2 and "too small to boot this image" in b.stderr, "build -o took --mem 16M")
        ok &= check(not os.path.exists(out), "build -o wrote an image that cannot boot")
        if check(m, "no line naming the --mem that boots"):
            need = int(m.group(1))
            r = run([CAPSULE, "run", "--mem", f"{need}M", python, "-c", "print(1)"])
            ok &= check(r.returncode in (126, 137), f"status {r.returncode} at {need}M, expected 126 or 137")
            ok &= oom_line(r, need, "starting" if r.returncode == 126 else "serving a page fault")
            ok &= check("triple fault" not in r.stderr, "the guest died")
    else:
        sys.exit(f"unknown test {what}")
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
