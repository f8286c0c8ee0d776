"""A Debian program, however it is spelled, runs in the guest as on the
host (issue 15 item 3; docs/cli.md "Packages"):

    packages_test.py CASE

runs `capsule run PROGRAM ARGS` and the same PROGRAM ARGS on the host, both
with the guest's default environment (PATH, HOME) and a TERM (which `run`
passes on, as the host's programs inherit it), and compares stdout,
stderr and the exit status. The programs need files their ELF does not
name: Python's standard library, perl's modules, node's and java's
runtimes, openssl's and git's packages. A case whose program is not
installed here is skipped (77), java_jar also without javac/jar. Cases:
see CASES (java's closure is ~240 MB: 5-10 s under TCG, 640 MiB of guest
memory from an initrd; java_disk runs it from a disk root in 160 MiB).
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 300
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
       "TERM": "xterm-256color"}

CASES = {
    # Every spelling of Debian's python3: the stdlib comes (json, encodings).
    "python3_path": ["/usr/bin/python3", "-c", "import json, sys; print(json.dumps({'v': sys.version_info[:2]}))"],
    "python3_11": ["python3.11", "-c", "import json, zlib; print(json.dumps(zlib.crc32(b'capsule')))"],
    # A thread ending in pthread_exit: glibc dlopens libgcc_s.so.1 to unwind
    # it (no DT_NEEDED names it); without it the program aborts (status 134).
    "pthread_exit": ["python3", "-c", "import ctypes, os, threading, time; "
                     "threading.Thread(target=lambda: ctypes.CDLL(None).pthread_exit(None)).start(); "
                     "time.sleep(0.5); print('the thread ended', flush=True); os._exit(0)"],
    # perl-base owns /usr/bin/perl; List::Util is in perl-base, JSON::PP in
    # perl-modules-5.36 (package perl, named like the program).
    "perl": ["perl", "-MList::Util=sum", "-MJSON::PP", "-e",
             'print sum(1..10), " ", JSON::PP->new->canonical->encode({a => 1, b => [1, 2]}), "\\n"'],
    "node": ["node", "-e", "const z = require('zlib'); console.log(z.gunzipSync(z.gzipSync('hello zlib')).toString())"],
    "sqlite3": ["/usr/bin/sqlite3", ":memory:", "select 6 * 7, sqlite_version() is not null;"],
    "openssl": ["openssl", "s_client", "-help"],
    "git": ["git", "--version"],
    # The terminfo database comes with a terminal library, with TERM's
    # entry: tput and clear read it (top -bn1 needs it too).
    "tput": ["tput", "colors"],
    "clear": ["clear", "-x"],
    "java": ["java", "-version"],
    # A link that chooses the program's role by argv[0] (xzcat -> xz, as
    # redis-server -> redis-check-rdb, busybox's applets): run by the name
    # it was found at, it decompresses to stdout; run as xz it would
    # compress.
    "xzcat": ["xzcat", "@XZ@"],
    "java_jar": ["java", "-jar", "@JAR@", "a", "b"],
    # The same from a disk root (docs/overlay.md "A disk root") in less
    # guest memory than the ~240 MB image itself.
    "java_disk": ["java", "-version"],
}
# Options a case runs `capsule run` with.
RUN_OPTIONS = {"java_disk": ["--root", "disk", "--mem", "160M"]}

HELLO_JAVA = """public class Hello {
  public static void main(String[] args) {
    System.out.println("hello from a jar, " + args.length + " args, " + String.join(",", args));
    System.exit(3);
  }
}
"""


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       timeout=TIMEOUT, **kw)
    print("$", " ".join(cmd), f"-> {r.returncode}")
    return r


def show(name, data):
    text = data.decode(errors="replace")
    print(f"--- {name} ({len(data)} bytes)\n{text[-3000:]}")


def make_jar(work):
    for tool in ("javac", "jar"):
        if not shutil.which(tool, path=ENV["PATH"]):
            sys.exit(77)
    with open(os.path.join(work, "Hello.java"), "w") as f:
        f.write(HELLO_JAVA)
    subprocess.run(["javac", "Hello.java"], cwd=work, check=True, env=dict(os.environ, **ENV))
    subprocess.run(["jar", "cfe", "hello.jar", "Hello", "Hello.class"], cwd=work, check=True,
                   env=dict(os.environ, **ENV))
    return os.path.join(work, "hello.jar")


def missing():
    """Without its packages (--package-cap 0) perl cannot find JSON::PP and
    fails as on a host without perl-modules (status 2); --verbose lists
    the file it looked for, whole, in the kernel's [missing] lines."""
    if not shutil.which("perl", path=ENV["PATH"]) or not os.path.exists("/usr/share/perl/5.36/JSON/PP.pm"):
        return 77
    r = run([CAPSULE, "run", "--verbose", "--package-cap", "0", "perl", "-MJSON::PP", "-e", "1"],
            env=dict(os.environ, **ENV), cwd="/")
    err = r.stderr.decode(errors="replace")
    ok = r.returncode == 2 and "Can't locate JSON/PP.pm" in err
    # Whole paths, beyond --strace's 32 characters.
    want = ['[missing] newfstatat(AT_FDCWD, "/usr/share/perl/5.36/JSON/PP.pm", ',
            '[missing] newfstatat(AT_FDCWD, "/usr/local/lib/x86_64-linux-gnu/perl/5.36.0/JSON/PP.pm", ']
    ok &= all(w in err for w in want)
    if not ok:
        print(f"FAIL: expected status 2, perl's message and {want!r}")
        show("stderr", r.stderr)
    # Without --verbose the kernel lists nothing.
    r = run([CAPSULE, "run", "--package-cap", "0", "perl", "-MJSON::PP", "-e", "1"],
            env=dict(os.environ, **ENV), cwd="/")
    if r.returncode != 2 or b"[missing]" in r.stderr:
        print("FAIL: without --verbose: status 2 and no [missing] lines expected")
        ok = False
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


def main():
    case = sys.argv[1]
    if case == "missing":
        return missing()
    argv = list(CASES[case])
    if not shutil.which(argv[0], path=ENV["PATH"]):
        print(f"SKIP: {argv[0]} is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="capsule-packages-")
    try:
        extra = []
        if "@JAR@" in argv:
            jar = make_jar(work)
            argv[argv.index("@JAR@")] = "/hello.jar"
            extra = ["--add", f"{jar}:/hello.jar"]
            host_argv = [a if a != "/hello.jar" else jar for a in argv]
        elif "@XZ@" in argv:
            packed = os.path.join(work, "data.xz")
            with open(packed, "wb") as f:
                f.write(subprocess.run(["xz", "-c"], input=b"".join(b"line %d\n" % i for i in range(500)),
                                       stdout=subprocess.PIPE, check=True).stdout)
            argv[argv.index("@XZ@")] = "/data.xz"
            extra = ["--add", f"{packed}:/data.xz"]
            host_argv = [a if a != "/data.xz" else packed for a in argv]
        else:
            host_argv = argv
        host = run(host_argv, env=ENV, cwd="/")
        # The CLI finds the program on the same PATH as the host run.
        guest = run([CAPSULE, "run", *RUN_OPTIONS.get(case, []), *extra, *argv], env=dict(os.environ, **ENV), cwd="/")
        ok = True
        for what, h, g in (("stdout", host.stdout, guest.stdout), ("stderr", host.stderr, guest.stderr)):
            if h != g:
                print(f"FAIL: {what} differs from the host's")
                show(f"host {what}", h)
                show(f"guest {what}", g)
                ok = False
        if host.returncode != guest.returncode:
            print(f"FAIL: status {guest.returncode}, the host's {host.returncode}")
            ok = False
        if ok:
            show("stdout (both)", host.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
