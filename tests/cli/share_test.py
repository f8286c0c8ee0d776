"""capsule run --share HOSTDIR:GUESTDIR[:ro] end to end over virtio-9p or,
with a 4th argument "virtiofs", virtio-fs (docs/9p.md, docs/virtiofs.md,
tests/cli/CMakeLists.txt):

    share_test.py rw MACHINE PROGRAM   PROGRAM (programs/share_edit.c, static)
                                       edits a shared directory in the VM;
                                       the same program run natively on a
                                       twin directory gives the expected
                                       tree; the host then checks each
                                       change and compares the two trees
    share_test.py ro MACHINE PROGRAM   a :ro share: every write kind fails
                                       with EROFS in the VM, the host tree
                                       is unchanged
    share_test.py exec MACHINE PROGRAM PROGRAM copied into the share runs from
                                       there (its pages come over 9P) on 4
                                       CPUs, editing another part of the
                                       share; /proc/mounts lists the share
    share_test.py watch MACHINE PROGRAM the host changes the share while the
                                       program runs (rewrites a file it holds
                                       open, creates, deletes, renames); the
                                       program sees every change
    share_test.py debian MACHINE -     Debian's busybox (cp -r, mv, rm,
                                       mkdir, ln -s, sed -i, find) edits the
                                       share; the same script run on the
                                       host gives the same tree
    share_test.py python MACHINE -     Debian's python3 (shutil.copytree,
                                       os.replace, json, os.walk, append,
                                       truncate) on the share; the same
                                       script on the host gives the same
                                       output and tree
    share_test.py falloc MACHINE - virtiofs  fallocate(2) (punch a hole, grow,
                                       KEEP_SIZE) over virtio-fs: the host
                                       sees the hole, size and blocks
    share_test.py bad MACHINE -        a missing host directory, a relative
                                       or "/" guest directory, a bad suffix:
                                       status 2 and a line before any VM

Escapes: the guest's ".." at the share's root and a host symlink to ".."
inside the share both stay in the guest's tree (share_edit checks that
DIR/up/outside.txt and DIR/../outside.txt do not reach the host file next
to the share).
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 240
# The transport (share_test.py CASE MACHINE PROGRAM [9p|virtiofs]):
# virtio-9p (docs/9p.md) or virtio-fs with virtiofsd (docs/virtiofs.md).
VIA = "9p"
FSTYPE = {"9p": "9p", "virtiofs": "virtiofs"}
INPUT = "line one\nline two\n"


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       stdin=subprocess.DEVNULL, timeout=TIMEOUT, **kw)
    print("$", " ".join(cmd), f"-> {r.returncode}")
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r


def tree(root):
    """{relative path: (kind, mode, size or link target, content)} of a
    directory (times left out: the two runs differ in them)."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", oct(st.st_mode))
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", oct(st.st_mode), st.st_nlink, f.read())
    return out


def seed(d):
    os.makedirs(os.path.join(d, "keepdir"))
    with open(os.path.join(d, "input.txt"), "w") as f:
        f.write(INPUT)
    os.symlink("..", os.path.join(d, "up"))


def compare(expected, got):
    ok = True
    for k in sorted(set(expected) | set(got)):
        if expected.get(k) != got.get(k):
            e, g = expected.get(k), got.get(k)
            print(f"FAIL: {k}: host run {str(e)[:120]}, VM run {str(g)[:120]}")
            ok = False
    return ok


def host_checks(d, outside=True):
    """Each change the program made, as the host sees it."""
    ok = True

    def check(cond, what):
        nonlocal ok
        if not cond:
            print(f"FAIL: on the host: {what}")
            ok = False

    def text(name):
        with open(os.path.join(d, name)) as f:
            return f.read()

    p = lambda name: os.path.join(d, name)  # noqa: E731
    check(text("created.txt") == "hello\nworld\n", "created.txt created, written and appended")
    with open(p("big.bin"), "rb") as f:
        big = f.read()
    want = bytes(((i * 7 + i // 4096) & 0xff) for i in range(300000))
    check(big[:4096] == bytes(4096) and big[4096:] == want, "big.bin: a hole, then 300000 bytes")
    check(text("renamed.txt") == "moving\n" and not os.path.exists(p("renamed_from.txt")), "rename")
    check(text("victim.txt") == "new\n" and not os.path.exists(p("replacer.txt")), "rename over a file")
    check(not os.path.exists(p("deleted.txt")), "unlink")
    check(text("sub/inner.txt") == "inner\n", "a file in a new directory")
    check(os.path.isdir(p("sub/deeper")) and (os.stat(p("sub/deeper")).st_mode & 0o777) == 0o700, "mkdir 0700")
    check(not os.path.exists(p("removed_dir")), "rmdir")
    check(os.path.isdir(p("sub/moved_dir")) and not os.path.exists(p("moved_dir")), "directory renamed")
    check(os.readlink(p("link")) == "created.txt", "symlink")
    check(os.stat(p("hard.txt")).st_ino == os.stat(p("created.txt")).st_ino, "hard link")
    check(os.path.getsize(p("trunc.txt")) == 0, "truncate")
    st = os.stat(p("mode.txt"))
    check((st.st_mode & 0o777) == 0o640 and int(st.st_mtime) == 1234567890, "chmod and utimes")
    check(text("mapped.txt") == "shared mapping!\n", "MAP_SHARED write reached the host")
    check(text("msynced.txt") == "0123MSYNC9abcdef", "msync sent the mapped page to the host")
    check(text("unmapped.txt") == "written, unmap\n.", "munmap of the last reference wrote the page back")
    check(text("input.txt") == INPUT, "input.txt unchanged")
    for t in range(4):
        with open(p(f"thread{t}.bin"), "rb") as f:
            data = f.read()
        want = b"".join(bytes([ord("a") + t * 4 + i % 4]) * 8192 for i in range(32))
        check(data == want, f"thread{t}.bin written by its thread")
    if outside:
        check(open(os.path.join(d, "..", "outside.txt")).read() == "outside\n", "the file outside the share")
    return ok


def stat_lines(out):
    return [l for l in out.splitlines() if l.startswith("stat ")]


def case_rw(machine, program, work):
    native, shared = os.path.join(work, "native", "d"), os.path.join(work, "vm", "d")
    seed(native)
    seed(shared)
    with open(os.path.join(work, "vm", "outside.txt"), "w") as f:
        f.write("outside\n")
    r_native = run([program, "rw", native])
    if r_native.returncode != 0 or "PASS share_edit rw" not in r_native.stdout:
        print("FAIL: the program fails natively")
        return False
    r = run([CAPSULE, "run", "--share-via", VIA, "--machine", machine, "--net", "none", "--share", f"{shared}:/mnt/share",
             program, "rw", "/mnt/share"])
    ok = r.returncode == 0 and "PASS share_edit rw" in r.stdout and "FAIL" not in r.stdout
    if not ok:
        print(f"FAIL: the VM run: status {r.returncode}")
    if stat_lines(r.stdout) != stat_lines(r_native.stdout):
        print("FAIL: the stat figures differ from the native run's")
        ok = False
    ok = host_checks(shared) and ok
    # The trees: the same names, types, modes, links and bytes.
    with open(os.path.join(work, "native", "outside.txt"), "w") as f:
        f.write("outside\n")
    return compare(tree(native), tree(shared)) and ok


def case_ro(machine, program, work):
    shared = os.path.join(work, "ro", "d")
    seed(shared)
    with open(os.path.join(work, "ro", "outside.txt"), "w") as f:
        f.write("outside\n")
    before = tree(shared)
    r = run([CAPSULE, "run", "--share-via", VIA, "--machine", machine, "--net", "none", "--share", f"{shared}:/srv/data:ro",
             program, "ro", "/srv/data"])
    ok = r.returncode == 0 and "PASS share_edit ro" in r.stdout and "FAIL" not in r.stdout
    if not ok:
        print(f"FAIL: the VM run: status {r.returncode}")
    return compare(before, tree(shared)) and ok


def case_exec(machine, program, work):
    busybox = shutil.which("busybox")
    if not busybox:
        print("SKIP: no busybox on the host")
        return 77
    shared = os.path.join(work, "exec")
    os.makedirs(os.path.join(shared, "bin"))
    shutil.copy(program, os.path.join(shared, "bin", "share_edit"))
    seed(os.path.join(shared, "work"))  # work/.. is the share here: no outside.txt in it
    r = run([CAPSULE, "run", "--share-via", VIA, "--machine", machine, "--cpus", "4", "--net", "none", "--share", f"{shared}:/mnt/s",
             busybox, "sh", "-c", "/mnt/s/bin/share_edit rw /mnt/s/work && grep ' /mnt/s ' /proc/mounts"])
    ok = r.returncode == 0 and "PASS share_edit rw" in r.stdout and "FAIL" not in r.stdout
    if not ok:
        print(f"FAIL: the VM run: status {r.returncode}")
    if f"capsule0 /mnt/s {FSTYPE[VIA]} rw" not in r.stdout:
        print("FAIL: /proc/mounts does not list the share")
        ok = False
    return host_checks(os.path.join(shared, "work"), outside=False) and ok


def case_watch(machine, program, work):
    import time
    shared = os.path.join(work, "watch")
    os.makedirs(shared)
    for name, text in (("a.txt", "v1\n"), ("c.txt", "c\n"), ("d.txt", "d\n")):
        with open(os.path.join(shared, name), "w") as f:
            f.write(text)
    cmd = [CAPSULE, "run", "--share-via", VIA, "--machine", machine, "--net", "none", "--share", f"{shared}:/mnt/w",
           program, "watch", "/mnt/w"]
    print("$", " ".join(cmd))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        # Polling, not a timed assertion: the test's timeout bounds it.
        while not os.path.exists(os.path.join(shared, "ready")) and p.poll() is None:
            time.sleep(0.05)
        with open(os.path.join(shared, "a.txt"), "r+") as f:  # in place: the same inode
            f.write("version two\n")
        with open(os.path.join(shared, "b.txt"), "w") as f:
            f.write("new\n")
        os.unlink(os.path.join(shared, "c.txt"))
        os.rename(os.path.join(shared, "d.txt"), os.path.join(shared, "e.txt"))
        open(os.path.join(shared, "go"), "w").close()
        out, err = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    sys.stdout.write(out)
    sys.stderr.write(err)
    ok = p.returncode == 0 and "PASS share_edit watch" in out
    if not ok:
        print(f"FAIL: the VM run: status {p.returncode}")
    return ok


# The same edit, by Debian's busybox, in the VM and on the host.
SCRIPT = ("cd {d} && cp -r src dst && mv dst/a.txt dst/b.txt && rm dst/c.txt && mkdir -p dst/e/f && "
          "ln -s b.txt dst/l && sed -i s/alpha/omega/ dst/b.txt && echo appended >> dst/b.txt && "
          "find dst | sort > found.txt && rm -r src/sub && cat dst/b.txt")


def debian_seed(d):
    os.makedirs(os.path.join(d, "src", "sub"))
    for name, text in (("a.txt", "alpha\n"), ("c.txt", "gamma\n"), ("sub/x", "x" * 10000)):
        with open(os.path.join(d, "src", name), "w") as f:
            f.write(text)


def case_debian(machine, _program, work):
    busybox = shutil.which("busybox")
    if not busybox:
        print("SKIP: no busybox on the host")
        return 77
    native, shared = os.path.join(work, "native"), os.path.join(work, "vm")
    debian_seed(native)
    debian_seed(shared)
    r_native = run([busybox, "sh", "-c", SCRIPT.format(d=native)])
    r = run([CAPSULE, "run", "--share-via", VIA, "--machine", machine, "--net", "none", "--share", f"{shared}:/work/files",
             busybox, "sh", "-c", SCRIPT.format(d="/work/files")])
    ok = r_native.returncode == 0 and r.returncode == 0 and r.stdout == r_native.stdout
    if not ok:
        print(f"FAIL: status {r.returncode} (host {r_native.returncode}) or the output differs")
    got, want = tree(shared), tree(native)
    want["found.txt"], got["found.txt"] = None, None  # checked below: paths differ by the prefix
    with open(os.path.join(native, "found.txt")) as f1, open(os.path.join(shared, "found.txt")) as f2:
        if f1.read() != f2.read():
            print("FAIL: find's listings differ")
            ok = False
    return compare(want, got) and ok


PY_SCRIPT = r"""
import json, os, shutil, sys
os.chdir(sys.argv[1])
shutil.copytree("src", "copy")
with open("copy/data.json", "w") as f:
    json.dump({"n": list(range(5)), "s": "caf\u00e9"}, f, sort_keys=True)
os.replace("copy/a.txt", "copy/renamed.txt")
with open("copy/renamed.txt", "a") as f:
    f.write("more\n")
with open("copy/big.bin", "r+b") as f:
    f.truncate(1000)
os.remove("src/c.txt")
os.makedirs("copy/x/y/z", exist_ok=True)
for d, dirs, files in sorted(os.walk(".")):
    print(d, sorted(dirs), sorted(files), [os.path.getsize(os.path.join(d, n)) for n in sorted(files)])
print(json.load(open("copy/data.json")))
"""


def case_python(machine, _program, work):
    if not os.path.exists("/usr/bin/python3"):
        print("SKIP: no Debian python3 on the host")
        return 77
    native, shared = os.path.join(work, "native"), os.path.join(work, "vm")
    for d in (native, shared):
        os.makedirs(os.path.join(d, "src", "sub"))
        for name, data in (("a.txt", b"alpha\n"), ("c.txt", b"gamma\n"), ("big.bin", bytes(range(256)) * 400),
                           ("sub/x", b"x" * 10000)):
            with open(os.path.join(d, "src", name), "wb") as f:
                f.write(data)
    with open(os.path.join(work, "script.py"), "w") as f:
        f.write(PY_SCRIPT)
    r_native = run(["/usr/bin/python3", "-c", PY_SCRIPT, native])
    r = run([CAPSULE, "run", "--share-via", VIA, "--machine", machine, "--net", "none", "--share", f"{shared}:/data",
             "/usr/bin/python3", "-c", PY_SCRIPT, "/data"])
    ok = r_native.returncode == 0 and r.returncode == 0 and r.stdout == r_native.stdout and r.stdout
    if not ok:
        print(f"FAIL: status {r.returncode} (host {r_native.returncode}) or the output differs")
    return compare(tree(native), tree(shared)) and bool(ok)


FALLOC_SCRIPT = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def fallocate(fd, mode, off, n):
    if libc.fallocate(fd, mode, ctypes.c_long(off), ctypes.c_long(n)) != 0:
        raise OSError(ctypes.get_errno(), "fallocate")
os.chdir(sys.argv[1])
fd = os.open("holey.bin", os.O_RDWR)
fallocate(fd, 3, 4096, 8192)           # PUNCH_HOLE | KEEP_SIZE
os.posix_fallocate(fd, 0, 65536)       # mode 0: grows the file
os.fdatasync(fd)
fd2 = os.open("kept.bin", os.O_RDWR | os.O_CREAT, 0o644)
fallocate(fd2, 1, 0, 16384)            # KEEP_SIZE: blocks, no size
print("sizes", os.fstat(fd).st_size, os.fstat(fd2).st_size)
print("hole", os.pread(fd, 4, 4096), os.pread(fd, 4, 12288))
"""


def case_falloc(machine, _program, work):
    """fallocate(2) over the share (virtio-fs only: 9P has no such call):
    the host sees the punched hole, the grown size and the kept blocks."""
    if not os.path.exists("/usr/bin/python3"):
        print("SKIP: no Debian python3 on the host")
        return 77
    shared = os.path.join(work, "falloc")
    os.makedirs(shared)
    with open(os.path.join(shared, "holey.bin"), "wb") as f:
        f.write(b"abcd" * 4096)  # 16 KiB
    r = run([CAPSULE, "run", "--share-via", VIA, "--machine", machine, "--net", "none", "--share",
             f"{shared}:/data", "/usr/bin/python3", "-c", FALLOC_SCRIPT, "/data"])
    ok = r.returncode == 0 and "sizes 65536 0" in r.stdout and "hole b'\\x00\\x00\\x00\\x00' b'abcd'" in r.stdout
    if not ok:
        print(f"FAIL: the VM run: status {r.returncode}")
    with open(os.path.join(shared, "holey.bin"), "rb") as f:
        data = f.read()
    want = b"abcd" * 1024 + bytes(8192) + b"abcd" * 1024 + bytes(65536 - 16384)
    if data != want:
        print("FAIL: holey.bin on the host is not the punched, grown file")
        ok = False
    st = os.stat(os.path.join(shared, "kept.bin"))
    if st.st_size != 0 or st.st_blocks * 512 < 16384:
        print(f"FAIL: kept.bin on the host: size {st.st_size}, {st.st_blocks} blocks (want 0 and 16 KiB)")
        ok = False
    return ok


def case_bad(machine, program, work):
    ok = True
    os.makedirs(os.path.join(work, "there"))
    cases = [
        (f"{work}/missing:/mnt/x", "does not exist"),
        (f"{work}/there:relative", "absolute path"),
        (f"{work}/there:/", "absolute path"),
        (f"{work}/there:/mnt/../etc", "may not contain"),
        (f"{work}/there:/mnt/x:rw", "does not exist"),  # ':rw' is not a suffix: "/mnt/x" is taken as the host side
        (f"{work}/there", "bad --share"),
    ]
    for spec, text in cases:
        r = run([CAPSULE, "run", "--machine", machine, "--share", spec, "/bin/true"])
        if r.returncode != 2 or text not in r.stderr:
            print(f"FAIL: --share {spec}: status {r.returncode}, expected 2 and '{text}'")
            ok = False
    return ok


def main():
    global VIA
    what, machine, program = sys.argv[1], sys.argv[2], sys.argv[3]
    VIA = sys.argv[4] if len(sys.argv) > 4 else "9p"
    if VIA == "virtiofs":
        sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "capsule"))
        from capsule_cli import qemu
        try:
            qemu.share_via("virtiofs")
        except ValueError as e:
            print(f"SKIP: {e}")
            return 77
    work = tempfile.mkdtemp(prefix="capsule-share-")
    try:
        result = {"rw": case_rw, "ro": case_ro, "exec": case_exec, "watch": case_watch, "debian": case_debian, "python": case_python, "falloc": case_falloc, "bad": case_bad}[what](machine, program, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if result == 77:
        return 77
    print("PASS" if result else "FAIL")
    return 0 if result else 1


if __name__ == "__main__":
    sys.exit(main())
