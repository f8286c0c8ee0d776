#!/usr/bin/env python3
"""Debian's busybox-static file tools inside the VM give the host's output.

A test tree (text and binary files, modes 0600..0755, symlinks, a dangling
symlink, nested and empty directories, 40 small files, fixed mtimes) is made
on the host in a tmpfs directory and packed into the guest's initrd at /t
with its modes and mtimes (the cpio keeps both; owners become 0:0, as the
host's files are when the test runs as root, which CI does). Then each case
runs busybox in a fresh VM and compares what it printed (stdout and stderr:
the guest's console has both) and its exit status with the same command run
on the host over the host's copy of the tree.

Two kinds of case:
- single applet (`TREE_CASES`): one busybox applet is the VM's program
  (find, du, ls -l, md5sum, stat, head/tail -c, dd, tar c/t/x, gzip,
  gunzip). These need no process creation in the guest.
- shell script (`SCRIPT_CASES`): `busybox sh /case.sh /t /w` builds and
  checks a tree with several applets (tar c then x, cp -r, mkdir -p, mv,
  ln -s, chmod, touch -d, rm -r, dd seek). busybox sh runs every applet in a
  forked child (clone without CLONE_VM, then execve of /proc/self/exe for
  some), so these need fork and execve in the kernel.

What legitimately differs between the two runs and is normalized:
- paths: the guest's /t and /w are the host's temporary directories; the
  host's output has them replaced by /t and /w;
- directory order: readdir order is unspecified (tmpfs lists newest first,
  Capsule's ramfs by name), so the output of `find`, `du -a` and `tar c`'s
  member order is compared sorted (marked `sort` below); `ls` sorts itself;
- what stat(1) shows by default includes inode and device numbers and
  atime/ctime, which belong to each system: the stat case prints the other
  fields with `stat -c`.
- user and group names: the guest has no /etc/passwd of its own; the test
  adds /etc/passwd and /etc/group with root (uid/gid 0) only, the entries
  the host resolves for its root-owned files, so `ls -l` and `tar tv` print
  `root root` on both sides.
Sizes of directories and block counts are compared as they are: Capsule's
ramfs reports them as tmpfs does (20 bytes per entry, 512-byte blocks of
whole pages), so the host side runs on a tmpfs (/dev/shm).

When a case fails, it boots it once more with `--log=warn` and prints the
kernel's "unimplemented syscall NAME" lines, to tell a missing syscall from
a wrong result.

Usage: busybox_files.py --kernel build/capsule.elf --case NAME
       busybox_files.py --list
"""
import argparse
import difflib
import gzip
import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools", "capsule"))
from capsule_cli import cli, cpio, image, qemu  # noqa: E402

BUSYBOX = "/bin/busybox"
GUEST_TREE = "/t"
GUEST_WORK = "/w"

OLD = 1614834367     # 2021-03-04 05:06:07 UTC
REF = 1640995200     # 2022-01-01 00:00:00 UTC: /t/ref, for find -newer
NEW = 1672617600     # 2023-01-02 00:00:00 UTC


def pseudo_random(n, seed):
    out = bytearray()
    h = hashlib.sha256(seed).digest()
    while len(out) < n:
        out += h
        h = hashlib.sha256(h).digest()
    return bytes(out[:n])


def make_tree(root):
    """The test tree, made under `root` with its modes and mtimes."""
    files = {
        "a.txt": (b"alpha\nbeta\ngamma\n", 0o644, OLD),
        "exec.sh": (b"#!/bin/sh\necho hi\n", 0o755, OLD),
        "secret": (b"s3cret\n", 0o600, NEW),
        "bin.dat": (pseudo_random(70000, b"bin"), 0o644, OLD),
        "big.dat": (pseudo_random(300 * 1024, b"big"), 0o444, NEW),
        "ref": (b"reference\n", 0o644, REF),
        "sub/deep/x.txt": (b"deep file\n" * 50, 0o640, NEW),
        "sub/note.txt": (b"a note\n", 0o644, OLD),
    }
    for i in range(40):
        files[f"many/f{i:02d}"] = (b"line %d\n" % i * (i * 7 + 1), 0o644,
                                   NEW if i % 3 == 0 else OLD)
    dirs = {"": 0o755, "sub": 0o755, "sub/deep": 0o750, "sub/empty": 0o700,
            "many": 0o755}
    links = {"link": "a.txt", "dangling": "missing/target", "dirlink": "sub"}
    for d in sorted(dirs):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for rel, (data, mode, mtime) in files.items():
        p = os.path.join(root, rel)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
        os.utime(p, (mtime, mtime))
    for rel, target in links.items():
        p = os.path.join(root, rel)
        os.symlink(target, p)
        os.utime(p, (OLD, OLD), follow_symlinks=False)
    # Directories last, deepest first: their mtimes must not move again.
    for d in sorted(dirs, key=lambda d: -d.count("/") - (d != "")):
        p = os.path.join(root, d)
        os.chmod(p, dirs[d])
        os.utime(p, (OLD, OLD))


def make_data(d, tree):
    """/data: an archive and a compressed file made on the host, for the
    guest to read."""
    os.makedirs(d)
    # busybox's own tar makes it, as the guest's tar would (same format).
    r = subprocess.run([BUSYBOX, "tar", "cf", "-", "-C", tree, "."], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=True)
    with open(os.path.join(d, "tree.tar"), "wb") as f:
        f.write(r.stdout)
    with open(os.path.join(tree, "big.dat"), "rb") as f:
        big = f.read()
    with open(os.path.join(d, "big.dat.gz"), "wb") as f:
        f.write(gzip.compress(big, mtime=0))


def make_etc(d):
    os.makedirs(d)
    with open(os.path.join(d, "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(d, "group"), "w") as f:
        f.write("root:x:0:\n")


MANY = [f"/t/many/f{i:02d}" for i in range(40)]
STAT_FMT = "%n|%s|%b|%f|%a|%A|%h|%u|%g|%U|%G|%Y|%y|%F|%N"

# name -> (argv, options). Options: sort (compare the lines sorted),
# check (a host-side check of the guest's output instead of comparing it).
TREE_CASES = {
    "find_name": (["find", "/t", "-name", "*.txt"], {"sort": True}),
    "find_type": (["find", "/t", "-type", "l", "-o", "-type", "d"], {"sort": True}),
    "find_size": (["find", "/t", "-type", "f", "-size", "+10k"], {"sort": True}),
    "find_newer": (["find", "/t", "-newer", "/t/ref"], {"sort": True}),
    "find_combined": (["find", "/t/many", "-type", "f", "-newer", "/t/ref", "-size", "-2k",
                       "-name", "f1*"], {"sort": True}),
    "du_s": (["du", "-s", "/t"], {}),
    "du_a": (["du", "-a", "/t"], {"sort": True}),
    "ls_l": (["ls", "-lR", "/t"], {}),
    "ls_ln": (["ls", "-lnA", "/t/sub", "/t/many"], {}),
    "md5sum_many": (["md5sum"] + MANY + ["/t/bin.dat", "/t/big.dat"], {}),
    "stat": (["stat", "-c", STAT_FMT, "/t", "/t/a.txt", "/t/exec.sh", "/t/secret", "/t/link",
              "/t/dangling", "/t/dirlink", "/t/sub", "/t/sub/deep", "/t/sub/empty",
              "/t/bin.dat"], {}),
    "stat_missing": (["stat", "/t/nothing"], {}),
    "head_c": (["head", "-c", "1000", "/t/bin.dat"], {}),
    "tail_c": (["tail", "-c", "4097", "/t/bin.dat"], {}),
    "dd": (["dd", "if=/t/bin.dat", "bs=512", "skip=3", "count=5", "status=none"], {}),
    "dd_tail": (["dd", "if=/t/bin.dat", "bs=1000", "skip=69", "count=5", "status=none"], {}),
    "tar_c": (["tar", "cf", "-", "-C", "/t", "."], {"check": "tar_c"}),
    "tar_tv": (["tar", "tvf", "/data/tree.tar"], {}),
    "tar_xO": (["tar", "xOf", "/data/tree.tar", "./a.txt", "./sub/deep/x.txt"], {}),
    "gzip_tree": (["gzip", "-c", "/t/bin.dat"], {"check": "gzip_tree"}),
    "gunzip_tree": (["gunzip", "-c", "/data/big.dat.gz"], {}),
}

PRELUDE = 'T=$1; W=$2; mkdir -p "$W" && cd "$W" || exit 99\n'

SCRIPT_CASES = {
    # tar c, then x into another directory; list the archive and the result
    # (busybox tar gives symlinks and directories with entries the time of
    # extraction: only the files' mtimes are compared).
    "sh_tar_roundtrip": r'''
tar cf a.tar -C "$T" . ; echo "tar c: $?"
mkdir x && tar xf a.tar -C x ; echo "tar x: $?"
tar tvf a.tar | sort -k6
find x | sort | xargs stat -c '%n %A %s %U:%G %h'
find x -type f | sort | xargs stat -c '%n %Y'
find x -type f | sort | xargs md5sum
find x -type l | sort | while read l; do echo "$l -> $(readlink "$l")"; done
''',
    # cp -r of the tree, compared with diff -r and by listing.
    "sh_cp_r": r'''
cp -r "$T" c ; echo "cp: $?"
diff -r "$T" c ; echo "diff: $?"
find c | sort
find c -type f | sort | xargs md5sum
for f in $(find c | sort); do stat -c '%n %a %F %s' "$f"; done
''',
    # mkdir -p, touch -d, chmod, ln -s, mv, rm -r, stat.
    "sh_file_ops": r'''
mkdir -p a/b/c/d ; echo "mkdir: $?"
echo hello > a/b/c/f
touch -d "2020-01-02 03:04:05" a/b/c/f ; echo "touch: $?"
chmod 640 a/b/c/f ; echo "chmod: $?"
chmod -R go-rwx a/b/c/d ; echo "chmod -R: $?"
ln -s b/c/f a/l ; echo "ln -s: $?"
mv a/b/c/f a/b/g ; echo "mv: $?"
cat a/l ; echo "cat dangling: $?"
ln -sf b/g a/l ; cat a/l
touch -d "2019-05-06 07:08:09" a/b/c/d a/b/c a/b
ls -lR a/b ; readlink a/l
stat -c '%n %a %F %s %Y %y' a/b/g a/b/c/d ; stat -c '%n %F %s %N' a/l
touch -r a/b/g a/b/h ; stat -c '%n %Y' a/b/h
rm -r a/b/c ; echo "rm -r: $?"
find a | sort
rm a/b ; echo "rm dir without -r: $?"
rm -r a ; echo "rm -r a: $?"
ls a ; echo "ls: $?"
mkdir x y ; mv x y ; echo "mv into dir: $?" ; find y
''',
    # dd with seek into a new and an existing file, skip from the source.
    "sh_dd_seek": r'''
dd if="$T/a.txt" of=out bs=4 count=3 seek=5 2>/dev/null ; echo "dd: $?"
stat -c %s out ; od -An -c out
dd if="$T/bin.dat" of=out bs=10 seek=2 count=1 conv=notrunc 2>/dev/null
stat -c %s out ; md5sum out
dd if="$T/bin.dat" of=out2 bs=4096 skip=2 count=3 2>/dev/null
stat -c %s out2 ; md5sum out2
head -c 100 "$T/bin.dat" > h ; tail -c 100 "$T/bin.dat" >> h ; md5sum h
dd if=/dev/zero of=z bs=1k seek=64 count=1 2>/dev/null ; stat -c '%s' z ; md5sum z
''',
    # gzip and gunzip of files of the tree (in place, -k, -d).
    "sh_gzip_files": r'''
cp "$T/big.dat" "$T/a.txt" . && gzip big.dat a.txt ; echo "gzip: $?"
ls big.dat a.txt 2>&1 | sort
gunzip -c big.dat.gz | md5sum
gzip -d a.txt.gz ; echo "gunzip: $?" ; cat a.txt
md5sum big.dat.gz >/dev/null; gzip -t big.dat.gz ; echo "gzip -t: $?"
''',
}

CASES = sorted(list(TREE_CASES) + list(SCRIPT_CASES))


def run_guest(kernel, work, argv, log, timeout):
    """Boots busybox with argv in a VM whose initrd has /t, /data, /etc and
    /case.sh. Returns (status, problem, output)."""
    pairs = [(image.find_program(BUSYBOX), "/busybox"),
             (os.path.join(work, "t"), GUEST_TREE),
             (os.path.join(work, "data"), "/data"),
             (os.path.join(work, "etc"), "/etc")]
    if os.path.exists(os.path.join(work, "case.sh")):
        pairs.append((os.path.join(work, "case.sh"), "/case.sh"))
    initrd = os.path.join(work, "initrd.cpio")
    cpio.write_file(initrd, cpio.map_entries(pairs))  # host modes and mtimes kept
    words = ["/busybox"] + argv
    cmdline = f"--log={log} -- " + " ".join(cli.quote_word(w) for w in words)
    status_file = os.path.join(work, "status")
    cmd = qemu.command(kernel, cmdline=cmdline, initrd=initrd, accel="tcg",
                       status_file=status_file)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    status, problem = qemu.decode_status(r.returncode, status_file)
    return status, problem, r.stdout


def run_host(work, argv, host_w):
    """The same busybox command on the host, stdout and stderr together (as
    the guest's console has them), paths mapped back to the guest's."""
    tree = os.path.join(work, "t")
    subst = {GUEST_TREE: tree, "/data": os.path.join(work, "data"), GUEST_WORK: host_w,
             "/case.sh": os.path.join(work, "case.sh")}

    def to_host(a):
        for g, h in subst.items():
            if a == g or a.startswith(g + "/") or a.startswith("if=" + g + "/"):
                return a.replace(g, h, 1)
        return a
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TZ": "UTC", "LC_ALL": "C", "HOME": "/"}
    r = subprocess.run([BUSYBOX] + [to_host(a) for a in argv], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd="/")
    out = r.stdout
    for g, h in sorted(subst.items(), key=lambda kv: -len(kv[1])):
        out = out.replace(h.encode(), g.encode())
    return r.returncode, out


def unimplemented(kernel, work, argv, timeout):
    """The kernel's 'unimplemented syscall' lines for this command."""
    try:
        _, _, out = run_guest(kernel, work, argv, "warn", timeout)
    except subprocess.TimeoutExpired:
        return ["(timed out again with --log=warn)"]
    text = out.decode(errors="replace")
    return sorted(set(m.group(0) for m in re.finditer(r"unimplemented syscall \S+ \(\d+\)", text)))


def check_tar_c(work, out):
    """The guest's archive of /t, extracted on the host by busybox tar, is
    the tree: same members, types, modes, mtimes, symlink targets, data."""
    tree = os.path.join(work, "t")
    problems = []
    try:
        tf = tarfile.open(fileobj=io.BytesIO(out), mode="r:")
        members = {os.path.normpath(m.name): m for m in tf.getmembers()}
    except Exception as e:  # noqa: BLE001 - any parse error is the failure
        return [f"the guest's archive does not parse: {e}"]
    want = {".": os.lstat(tree)}
    for dp, dns, fns in os.walk(tree):
        for n in dns + fns:
            p = os.path.join(dp, n)
            want[os.path.relpath(p, tree)] = os.lstat(p)
    for rel, st in sorted(want.items()):
        m = members.get(rel)
        if m is None:
            problems.append(f"{rel}: not in the archive")
            continue
        kind = ("dir" if stat.S_ISDIR(st.st_mode) else "sym" if stat.S_ISLNK(st.st_mode)
                else "reg")
        got_kind = "dir" if m.isdir() else "sym" if m.issym() else "reg" if m.isreg() else "?"
        if kind != got_kind:
            problems.append(f"{rel}: type {got_kind}, want {kind}")
            continue
        if kind != "sym" and m.mode & 0o7777 != st.st_mode & 0o7777:
            problems.append(f"{rel}: mode {m.mode:o}, want {st.st_mode & 0o7777:o}")
        if int(m.mtime) != int(st.st_mtime):
            problems.append(f"{rel}: mtime {m.mtime}, want {int(st.st_mtime)}")
        if m.uid != 0 or m.gid != 0:
            problems.append(f"{rel}: owner {m.uid}:{m.gid}, want 0:0")
        if kind == "sym" and m.linkname != os.readlink(os.path.join(tree, rel)):
            problems.append(f"{rel}: link to {m.linkname!r}")
        if kind == "reg":
            with open(os.path.join(tree, rel), "rb") as f:
                if tf.extractfile(m).read() != f.read():
                    problems.append(f"{rel}: contents differ")
    extra = sorted(set(members) - set(want))
    if extra:
        problems.append(f"members not in the tree: {extra}")
    # And busybox's own listing of it matches that of the host's archive.
    listing = []
    for blob in (out, open(os.path.join(work, "data", "tree.tar"), "rb").read()):
        r = subprocess.run([BUSYBOX, "tar", "tvf", "-"], input=blob, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env={"TZ": "UTC"})
        listing.append(sorted(r.stdout.splitlines()))
    if listing[0] != listing[1]:
        problems.append("busybox tar tv lists the guest's archive differently from the "
                        "host's (sorted):\n  " + b"\n  ".join(listing[0]).decode(errors="replace"))
    return problems


def check_gzip_tree(work, out):
    with open(os.path.join(work, "t", "bin.dat"), "rb") as f:
        want = f.read()
    try:
        got = gzip.decompress(out)
    except Exception as e:  # noqa: BLE001
        return [f"the guest's gzip stream does not decompress: {e}; {len(out)} bytes"]
    return [] if got == want else [f"decompresses to {len(got)} bytes that differ from bin.dat"]


CHECKS = {"tar_c": check_tar_c, "gzip_tree": check_gzip_tree}


def host_tmp():
    """A temporary directory on a tmpfs, so directory sizes and block counts
    compare with Capsule's ramfs (which reports them as tmpfs does)."""
    try:
        with open("/proc/mounts") as f:
            if any(ln.split()[1:3] == ["/dev/shm", "tmpfs"] for ln in f):
                return tempfile.mkdtemp(prefix="capsule-bbf-", dir="/dev/shm")
    except OSError:
        pass
    print("note: /dev/shm is not a tmpfs; directory sizes and du may differ")
    return tempfile.mkdtemp(prefix="capsule-bbf-")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel")
    p.add_argument("--case", choices=CASES)
    p.add_argument("--list", action="store_true", help="print the case names")
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    if a.list:
        print(" ".join(CASES))
        return 0
    if not a.kernel or not a.case:
        p.error("--kernel and --case are needed")
    if not os.path.exists(BUSYBOX):
        print(f"FAILED: {BUSYBOX} missing (Debian package busybox-static)")
        return 1
    if os.geteuid() != 0:
        print("note: not root: the host's files are not owned by root, so owner "
              "columns will differ from the guest's 0:0")
    work = host_tmp()
    try:
        make_tree(os.path.join(work, "t"))
        make_data(os.path.join(work, "data"), os.path.join(work, "t"))
        make_etc(os.path.join(work, "etc"))
        if a.case in SCRIPT_CASES:
            with open(os.path.join(work, "case.sh"), "w") as f:
                f.write(PRELUDE + SCRIPT_CASES[a.case].lstrip("\n"))
            argv = ["sh", "/case.sh", GUEST_TREE, GUEST_WORK]
            opts = {}
        else:
            argv, opts = TREE_CASES[a.case]
        try:
            status, problem, out = run_guest(a.kernel, work, argv, "error", a.timeout)
        except subprocess.TimeoutExpired:
            status, problem, out = None, f"timed out after {a.timeout:.0f} s", b""
        failure = None
        if problem:
            failure = problem
        elif "check" in opts:
            problems = CHECKS[opts["check"]](work, out)
            if status != 0:
                problems.insert(0, f"exit status {status}")
            if problems:
                failure = "; ".join(problems)
        else:
            host_w = os.path.join(work, "w")
            host_status, want = run_host(work, argv, host_w)
            got, exp = out, want
            if opts.get("sort"):
                got = b"\n".join(sorted(out.splitlines()))
                exp = b"\n".join(sorted(want.splitlines()))
            if status != host_status or got != exp:
                failure = f"guest status {status} (host {host_status}), output differs"
                diff = difflib.unified_diff(
                    exp.decode(errors="replace").splitlines(),
                    got.decode(errors="replace").splitlines(), "host", "guest", lineterm="")
                print("\n".join(list(diff)[:80]))
                if out.count(b"\n") <= 5:
                    print("guest output: " + out.decode(errors="replace"))
        if failure:
            print(f"FAILED: {a.case}: {failure}")
            missing = unimplemented(a.kernel, work, argv, a.timeout)
            if b"can't fork: Function not implemented" in out:
                missing.append("fork (clone without CLONE_VM) returns ENOSYS")
            if missing:
                print("kernel: " + "; ".join(missing))
            return 1
        print(f"ok: {a.case}: {len(out)} bytes as on the host, status {status}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
