#!/usr/bin/env python3
"""Disk tests (tests/guest/disk.cmake, docs/block.md, docs/ext4.md): makes
a tree and its images on the host (Debian's mke2fs -d), boots the kernel
with them as virtio-blk disks (or NVMe with --bus nvme on q35; --bus mixed:
the first disk virtio-blk, the others NVMe), and checks what the guest saw.

Cases:
  ktest         --test=block over two pattern disks (one read-only); the
                writable one's last sector must then hold what the guest wrote
  tree FS       disk_tree over the image mounted read-only at /data, against
                the same program over the host's tree (FS: ext4, ext4-4k, ext2);
                then EROFS for every change and statfs against dumpe2fs; with
                --cpus N > 1, 4 threads read every file at once
  overlay       overlay_ops over a disk root (the tree on a read-only ext4
                disk as the root's lower layer, the changes in RAM above)
                and on the host over a copy of the tree: the same output
  bad_root      a root disk that is not ext4, and one with a damaged
                superblock: one line naming the disk, status 2, no panic
  big           a 200 MiB file (and a small one) on a read-only ext4 image,
                read whole with read() and again through mmap() by disk_tree
                in a guest with less memory (--mem 64M): the page cache must
                drop clean pages (docs/vfs.md "Page cache eviction"); the
                listing (sizes, hashes) must be the host's
  not_ext4      a pattern disk with a mount point: a clear message, and the
                program still runs
  write FS      disk_write in the VM over a read-write image (FS: ext4,
                ext4-4k) and on the host over a tmpfs copy of its starting
                tree; then e2fsck -fn must find the image clean and
                debugfs rdump must give the host's tree (names, types,
                permissions, bytes, link targets); --fill: then the disk is
                written full (ENOSPC) and emptied again; --threads: then 4
                threads change files at once (run with --cpus 4); --htree:
                then 6,000 names go into big/, an htree directory of 400
                (e2fsck -D's index), half go again, some are renamed;
                --then frag|falloc|xattr: then that step of disk_write (a
                file whose extent tree grows past depth 1; fallocate's
                modes; extended attributes, printed by both runs and
                compared)
  crash         disk_write looping over a read-write image (files made,
                renamed, removed; checksummed records appended and fsync'd,
                each fsync reported), QEMU killed (kill -9) at --moments
                seeded random moments (the seed printed; --seed repeats
                them); each time the superblock must say "not clean" and
                "needs recovery"; e2fsck -fy must only replay the journal
                (nothing else to fix), then e2fsck -fn finds it clean; a
                copy booted again: the kernel replays the journal itself,
                mounts read-write, a file is written, e2fsck -fn clean; and
                after either replay every record up to the last one reported
                fsync'd is there and intact (debugfs dump)
  blkops        blk_ops over the raw disks' /dev nodes (a writable 8 MiB and a
                read-only 4 MiB pattern disk, no file system): sizes, a
                write across a sector boundary, BLKDISCARD of [1 MiB, 5 MiB),
                BLKZEROOUT of 64 KiB at 6 MiB, fallocate PUNCH_HOLE of 64 KiB
                at 7 MiB, Linux's errors for bad input;
                then the host reads the image: zeros where asked, the
                pattern elsewhere, the written bytes, and fewer blocks
                allocated than before (QEMU's discard=unmap punched a hole);
                the read-only image untouched; with --cpus N, the boot log
                says each virtio-blk disk has N request queues
  discard FS    disk_discard over a read-write ext4 image holding big (8 MiB),
                punched (4 MiB) and keep: big removed, 2 MiB punched out of
                punched; then the host's image must hold at least 18,000
                fewer 512-byte blocks (ext4 discarded what it freed, QEMU's
                discard=unmap punched holes), e2fsck -fn clean, keep intact,
                punched as written with zeros in the hole
  corrupt KIND  one damaged structure (sb_magic, sb_field, gd, inode, extent,
                dir; extent_csum and dir_csum: well-formed, only the
                metadata_csum checksum tells): the mount is refused with a message, or the damaged
                file alone gives EIO; never a kernel crash
"""
import argparse
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "capsule"))
from capsule_cli import image, qemu  # noqa: E402

PATTERN_SECTORS = 8192  # 4 MiB


def fail(msg, out=""):
    print(f"FAILED: {msg}")
    if out:
        lines = out.splitlines()
        print(f"--- last {min(60, len(lines))} of {len(lines)} lines of output ---")
        print("\n".join(lines[-60:]))
    return 1


def pattern_image(path):
    with open(path, "wb") as f:
        for i in range(PATTERN_SECTORS):
            f.write((b"sector %08d\n" % i).ljust(512, b"\0"))


def make_tree(root):
    """Files of several sizes (to 3 MiB), a sparse file, a fragmented file
    (more extents than the inode holds: a tree of depth 1), 600 names in
    one directory (an htree index), fast and slow symlinks, modes, owners
    and nanosecond times."""
    rnd = random.Random(14)
    os.makedirs(os.path.join(root, "sub", "deeper"))
    os.makedirs(os.path.join(root, "many"))

    def put(rel, data, mode=0o644, owner=(0, 0)):
        p = os.path.join(root, rel)
        with open(p, "wb") as f:
            f.write(data)
        os.chown(p, *owner)  # before chmod: chown clears set-user-ID
        os.chmod(p, mode)

    put("small.txt", b"hello from the disk\n")
    put("empty", b"")
    put("one_block", bytes(rnd.getrandbits(8) for _ in range(4096)), 0o600, (1000, 1000))
    put("odd_size", bytes(rnd.getrandbits(8) for _ in range(12345)), 0o755, (0, 100))
    put("big", rnd.randbytes(3 << 20), 0o640, (1234, 5678))
    put("sub/deeper/leaf", b"leaf\n", 0o4755)
    put("sub/setgid", b"g\n", 0o2711, (7, 8))
    with open(os.path.join(root, "sparse"), "wb") as f:  # 20 MiB with 2 blocks of data
        f.write(b"start")
        f.seek(20 << 20)
        f.write(b"end")
    with open(os.path.join(root, "frag"), "wb") as f:  # 12 islands of data
        for i in range(12):
            f.seek(i * 65536)
            f.write(rnd.randbytes(4096))
    for i in range(600):
        put(f"many/entry_{i:04d}_with_a_long_name", b"%d\n" % i)
    os.symlink("small.txt", os.path.join(root, "fast_link"))
    os.symlink("sub/" + "x" * 90 + "/../deeper/leaf", os.path.join(root, "slow_link"))
    os.symlink("/data/sub/deeper", os.path.join(root, "abs_link"))
    os.link(os.path.join(root, "small.txt"), os.path.join(root, "hard_link"))
    os.chmod(os.path.join(root, "sub"), 0o750)
    # Times with nanoseconds (mke2fs -d copies them).
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + dirnames:
            p = os.path.join(dirpath, n)
            ns = 1_700_000_000_000_000_000 + rnd.randrange(10**15)
            os.utime(p, ns=(ns, ns), follow_symlinks=False)


def make_image(tree, path, fs):
    """mke2fs -d copies whole seconds only: for ext4 the nanoseconds of
    each mtime are set afterwards with debugfs (which keeps the checksums
    right), so that the guest's figures can be compared with the host's."""
    args = {"ext4": ["-t", "ext4"], "ext4-4k": ["-t", "ext4", "-b", "4096"], "ext2": ["-t", "ext2"]}[fs]
    subprocess.run(["mke2fs", "-q", "-F", *args, "-d", tree, path, "64M"], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # mke2fs -d writes every directory as a linear list; e2fsck -D gives
    # the large one its hash index (status 1: "file system modified").
    r = subprocess.run(["e2fsck", "-fyD", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode not in (0, 1):
        raise RuntimeError(f"e2fsck -fyD failed: {r.stdout}")
    if "Root node dump" not in debugfs(path, "htree /many"):
        raise RuntimeError("/many has no htree index")
    if fs == "ext2":
        return
    script = []
    for dirpath, dirnames, filenames in os.walk(tree):
        for n in filenames + dirnames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if not stat.S_ISLNK(st.st_mode):
                script.append(f"sif /{os.path.relpath(p, tree)} mtime_extra {(st.st_mtime_ns % 10**9) << 2}")
    script_path = path + ".debugfs"
    with open(script_path, "w") as f:
        f.write("\n".join(script) + "\n")
    subprocess.run(["debugfs", "-w", "-f", script_path, path], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def dumpe2fs(path):
    out = subprocess.run(["dumpe2fs", "-h", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, check=True).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in fields.items()}


def debugfs(path, request):
    return subprocess.run(["debugfs", "-R", request, path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, check=True).stdout


def flip(path, offset, xor=0xff):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ xor]))


def on_bus(a, disks):
    """The --disk specs with the bus suffix --bus asks for (qemu.disk_args)."""
    if a.bus == "virtio":
        return list(disks)
    return [d if (a.bus == "mixed" and i == 0) else d + ":nvme" for i, d in enumerate(disks)]


def nvme_blocks(a, cmd):
    """With --nvme-block N, QEMU's NVMe namespaces get N-byte logical blocks
    (the kernel then reads and writes partial blocks through a bounce page)."""
    if not a.nvme_block:
        return cmd
    n = a.nvme_block
    return [c + f",logical_block_size={n},physical_block_size={n}" if c.startswith("nvme,drive=") else c
            for c in cmd]


def boot(a, work, disks, cmdline="", args=(), root_disk=None):
    cpus = a.cpus
    disks = on_bus(a, disks)
    initrd, guest = image.static_program_initrd(a.program, work)
    words = [guest] + list(args)
    cmdline = (" ".join(a.kernel_words) + " " + cmdline + " -- " + " ".join(words)).strip()
    status_file = os.path.join(work, "status")
    cmd = qemu.command(a.kernel, machine=a.machine, mem=a.mem, cpus=cpus, accel="tcg", cmdline=cmdline,
                       initrd=initrd, status_file=status_file, disks=disks, root_disk=root_disk)
    cmd = nvme_blocks(a, cmd)
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=a.timeout)
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode(errors="replace")
    out = r.stdout.decode(errors="replace")
    status, problem = qemu.decode_status(r.returncode, status_file)
    if DEBUG_REPORT.search(out):
        # The debug kernel's checks (docs/debug-kernel.md): any report fails the run.
        print("the debug kernel reported:\n" + "\n".join(
            ln for ln in out.splitlines() if ln.startswith(("lock_check:", "debug_heap:")))[-4000:])
        return None, out
    return (status if not problem else None), out


# A report of the debug kernel (--kernel capsule-debug.elf): the same
# patterns tests/guest/debug_kernel.cmake rejects.
DEBUG_REPORT = re.compile(r"^(debug_heap: (invalid free|double free|out-of-bounds|write after free)|"
                          r"lock_check: (lock order|sleeping|interrupts were off|spinlock taken with interrupts on))",
                          re.M)


def listing(out):
    m = re.search(r"^BEGIN tree\n(.*?)^END tree$", out, re.S | re.M)
    return m.group(1).splitlines() if m else None


def case_ktest(a, work):
    ro, rw = os.path.join(work, "ro.img"), os.path.join(work, "rw.img")
    pattern_image(ro)
    pattern_image(rw)
    initrd = None
    status_file = os.path.join(work, "status")
    cmd = qemu.command(a.kernel, machine=a.machine, mem="128M", accel="tcg", cmdline="--test=block",
                       status_file=status_file, disks=on_bus(a, [ro + ":ro", rw]))
    cmd = nvme_blocks(a, cmd)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=a.timeout)
    out = r.stdout.decode(errors="replace")
    status, problem = qemu.decode_status(r.returncode, status_file)
    if problem or status != 0:
        return fail(f"ktest: status {status} {problem or ''}", out)
    # QEMU's NVMe does not report a read-only drive (the guest's write fails
    # at the controller: EIO); virtio-blk does (RO: refused before the device).
    ro_disk = r"nvme\d+n1 is 'capsule0', 8192 sectors\n" if a.bus == "nvme" else \
        r"vd[ab] is 'capsule0', 8192 sectors, read-only"
    rw_disk = r"nvme\d+n1" if a.bus in ("nvme", "mixed") else r"vd[ab]"
    for want in (r"ktest: block: " + ro_disk, r"ktest: block: " + rw_disk + r" is 'capsule1', 8192 sectors\n",
                 r"ktest: 2 passed, 0 failed"):
        if not re.search(want, out):
            return fail(f"expected /{want}/", out)
    # What the guest wrote is on the host's file; the read-only one is untouched.
    with open(rw, "rb") as f:
        f.seek((PATTERN_SECTORS - 1) * 512)
        last = f.read(512)
    if not last.startswith(b"written %08d\n" % (PATTERN_SECTORS - 1)) or last[511] != 0x5a:
        return fail(f"the writable disk's last sector is {last[:20]!r}", out)
    with open(ro, "rb") as f:
        f.seek((PATTERN_SECTORS - 1) * 512)
        if not f.read(16).startswith(b"sector %08d" % (PATTERN_SECTORS - 1)):
            return fail("the read-only disk changed", out)
    print("PASS disk ktest")
    return 0


def case_tree(a, work):
    tree = os.path.join(work, "tree")
    make_tree(tree)
    img = os.path.join(work, "disk.img")
    make_image(tree, img, a.fs)
    host = subprocess.run([a.program, tree], stdout=subprocess.PIPE, text=True)
    want = listing(host.stdout)
    if host.returncode != 0 or want is None:
        return fail("disk_tree failed on the host", host.stdout)
    if a.fs == "ext2":  # no room for nanoseconds in ext2's inode
        want = [re.sub(r"(\d{10})\.\d{9}", r"\1.000000000", w) for w in want]
    h = dumpe2fs(img)
    statfs = f"statfs={h['Block count']},{h['Free blocks']},{h['Inode count']},{h['Free inodes']}"
    checks = ["/data", "erofs", statfs] + (["parallel"] if a.cpus > 1 else [])
    # --log=info: the disks' boot lines (queues_ok).
    status, out = boot(a, work, [img + ":/data:ro"], "--log=info" if a.cpus > 1 else "", checks)
    got = listing(out)
    if got is None:
        return fail("no listing from the guest", out)
    # Absolute link targets and the root's own name differ by design.
    if got != want:
        diff = [f"host:  {w}\nguest: {g}" for w, g in zip(want, got) if w != g][:10]
        return fail(f"listings differ ({len(want)} host lines, {len(got)} guest lines):\n" + "\n".join(diff), out)
    if status != 0 or "PASS disk_tree" not in out or "panic" in out:
        return fail(f"guest status {status}", out)
    if a.cpus > 1 and not queues_ok(a, out):
        return fail(f"not {a.cpus} request queues per disk", out)
    print(f"PASS disk tree {a.fs}: {len(got)} entries as on the host")
    return 0


def case_big(a, work):
    tree = os.path.join(work, "tree")
    os.makedirs(tree)
    rnd = random.Random(14)
    with open(os.path.join(tree, "huge"), "wb") as f:  # 200 MiB, deterministic
        for _ in range(200):
            f.write(rnd.randbytes(1 << 20))
    with open(os.path.join(tree, "small.txt"), "wb") as f:
        f.write(b"beside the big one\n")
    img = os.path.join(work, "disk.img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-O", "^has_journal", "-d", tree, img, "240M"], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    host = subprocess.run([a.program, tree], stdout=subprocess.PIPE, text=True)
    want = listing(host.stdout)
    if host.returncode != 0 or want is None:
        return fail("disk_tree failed on the host", host.stdout)
    # mke2fs -d keeps whole seconds only: compare the times to the second.
    want = [re.sub(r"(\d{10})\.\d{9}", r"\1", w) for w in want]
    status, out = boot(a, work, [img + ":/data:ro"], "", ["/data"])
    got = listing(out)
    if got is None:
        return fail("no listing from the guest", out)
    got = [re.sub(r"(\d{10})\.\d{9}", r"\1", g) for g in got]
    if got != want:
        diff = [f"host:  {w}\nguest: {g}" for w, g in zip(want, got) if w != g][:10]
        return fail("listings differ:\n" + "\n".join(diff), out)
    if status != 0 or "PASS disk_tree" not in out or "panic" in out:
        return fail(f"guest status {status}", out)
    print(f"PASS disk big: 200 MiB read twice (read, mmap) in a {a.mem} guest, hashes as on the host")
    return 0


def make_overlay_tree(root):
    """The lower tree overlay_ops changes: files, a directory to empty and
    remove, a 1 MiB file to truncate. No hard links: a lower file's links
    part at copy-up (docs/overlay.md "What differs")."""
    rnd = random.Random(7)
    for d in ("etc/conf.d", "lib", "share/doc"):
        os.makedirs(os.path.join(root, d))

    def put(rel, data, mode=0o644):
        p = os.path.join(root, rel)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)

    put("etc/hosts", b"127.0.0.1 localhost\n")
    put("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
    put("etc/motd", b"welcome\n")
    put("etc/issue", b"Capsule\n", 0o600)
    put("etc/conf.d/a", b"a\n")
    put("etc/conf.d/b", b"b\n")
    put("lib/big", rnd.randbytes(1 << 20), 0o755)
    put("lib/libold.so", b"old\n", 0o755)
    put("share/doc/readme", b"read me\n")
    put("share/doc/guide", b"guide\n")


def case_overlay(a, work):
    """overlay_ops over a disk root (the tree in the read-only ext4 lower
    layer, the program in the initrd's RAM layer above, docs/overlay.md)
    and on the host over a copy of the tree: the same results and the same
    tree after."""
    image_top = os.path.join(work, "image")
    make_overlay_tree(os.path.join(image_top, "data"))
    img = os.path.join(work, "root.img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal", "-d", image_top, img, "16M"],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    host_tree = os.path.join(work, "host")
    shutil.copytree(os.path.join(image_top, "data"), host_tree, symlinks=True)
    host = subprocess.run([a.program, host_tree], stdout=subprocess.PIPE, text=True)
    if host.returncode != 0 or "PASS overlay_ops" not in host.stdout:
        return fail("overlay_ops failed on the host", host.stdout)
    status, out = boot(a, work, [], "", ["/data"], root_disk=img)

    def body(text):
        m = re.search(r"^append etc/hosts.*?^END tree$", text, re.S | re.M)
        return m.group(0).splitlines() if m else None
    want, got = body(host.stdout), body(out)
    if got is None:
        return fail("no output from the guest", out)
    if got != want:
        diff = [f"host:  {w}\nguest: {g}" for w, g in zip(want, got) if w != g][:10]
        return fail(f"the guest differs from the host ({len(want)} host lines, {len(got)} guest lines):\n"
                    + "\n".join(diff), out)
    if status != 0 or "PASS overlay_ops" not in out or "panic" in out:
        return fail(f"guest status {status}", out)
    if subprocess.run(["e2fsck", "-fn", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).returncode:
        return fail("the root disk changed (e2fsck -fn)", out)
    print(f"PASS disk overlay: {len(got)} lines as on the host")
    return 0


def compare_trees(want_root, got_root):
    """Differences between two trees: names, types, permission bits,
    contents and link targets (lost+found is the image's own)."""
    diffs = []

    def entries(root):
        out = {}
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                rel = os.path.relpath(p, root)
                if rel == "lost+found" or rel.startswith("lost+found/"):
                    continue
                out[rel] = p
        return out

    want, got = entries(want_root), entries(got_root)
    for rel in sorted(set(want) | set(got)):
        if rel not in got:
            diffs.append(f"{rel}: missing from the image")
            continue
        if rel not in want:
            diffs.append(f"{rel}: in the image only")
            continue
        a, b = os.lstat(want[rel]), os.lstat(got[rel])
        if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
            diffs.append(f"{rel}: type {stat.S_IFMT(a.st_mode):o} vs {stat.S_IFMT(b.st_mode):o}")
        elif stat.S_ISLNK(a.st_mode):
            if os.readlink(want[rel]) != os.readlink(got[rel]):
                diffs.append(f"{rel}: link target differs")
        elif stat.S_IMODE(a.st_mode) != stat.S_IMODE(b.st_mode):
            diffs.append(f"{rel}: mode {stat.S_IMODE(a.st_mode):o} vs {stat.S_IMODE(b.st_mode):o}")
        elif stat.S_ISREG(a.st_mode):
            with open(want[rel], "rb") as f, open(got[rel], "rb") as g:
                x, y = f.read(), g.read()
            if x != y:
                diffs.append(f"{rel}: contents differ ({len(x)} bytes on the host, {len(y)} in the image)")
    return diffs


def queues_ok(a, out):
    """With --cpus N on virtio-blk, every disk's boot line says N request
    queues (the CLI gives num-queues=N; the driver takes one per CPU)."""
    if a.bus != "virtio":
        return True
    lines = re.findall(r"vd[a-z]: virtio-blk \(\w+\) .*", out)
    return bool(lines) and all(re.search(rf", {a.cpus} queues?\b", l) for l in lines)


def case_blkops(a, work):
    ro, rw = os.path.join(work, "ro.img"), os.path.join(work, "rw.img")
    pattern_image(ro)
    with open(rw, "wb") as f:  # 8 MiB, every sector its pattern: all allocated
        for i in range(2 * PATTERN_SECTORS):
            f.write((b"sector %08d\n" % i).ljust(512, b"\0"))
    before = os.stat(rw).st_blocks
    with open(ro, "rb") as f:
        ro_bytes = f.read()
    # QEMU's NVMe does not report a read-only drive: no read-only checks there.
    ro_arg = "0" if a.bus == "nvme" else str(PATTERN_SECTORS * 512)
    status, out = boot(a, work, [ro + ":ro", rw], "--log=info", [str(2 * PATTERN_SECTORS * 512), ro_arg])
    if "panic" in out.lower():
        return fail("the kernel panicked", out)
    if status != 0 or "PASS blk_ops" not in out:
        return fail(f"guest status {status}", out)
    if not re.search(r"(vd[a-z]: virtio-blk|nvme\d+n1: NVMe) .*discard, write-zeroes", out):
        return fail("no disk says discard and write-zeroes", out)
    if not queues_ok(a, out):
        return fail(f"not {a.cpus} request queues per disk", out)
    with open(rw, "rb") as f:
        data = f.read()
    mib = 1 << 20
    for i in range(2 * PATTERN_SECTORS):
        start = i * 512
        got = data[start:start + 512]
        if mib <= start < 5 * mib or 6 * mib <= start < 6 * mib + 65536 or 7 * mib <= start < 7 * mib + 65536:
            want = bytes(512)
        else:
            want = bytearray((b"sector %08d\n" % i).ljust(512, b"\0"))
            if i in (1, 2):  # "hello, disk" at byte 1020
                for k, c in enumerate(b"hello, disk"):
                    if 1020 + k - start in range(512):
                        want[1020 + k - start] = c
            want = bytes(want)
        if got != want:
            return fail(f"sector {i} of the writable image is {got[:24]!r}, not {want[:24]!r}", out)
    after = os.stat(rw).st_blocks
    # The 4 MiB discarded are 8192 blocks of 512 bytes the image no longer holds.
    if after > before - 8192:
        return fail(f"the image holds {after} blocks after the discard, {before} before: no hole", out)
    with open(ro, "rb") as f:
        if f.read() != ro_bytes:
            return fail("the read-only image changed", out)
    print(f"PASS disk blkops: zeros where asked, the rest intact, {before} -> {after} blocks allocated")
    return 0


def case_discard(a, work):
    tree = os.path.join(work, "tree")
    os.makedirs(tree)
    rnd = random.Random(21)
    files = {"big": rnd.randbytes(8 << 20), "punched": rnd.randbytes(4 << 20), "keep": rnd.randbytes(100000)}
    for name, data in files.items():
        with open(os.path.join(tree, name), "wb") as f:
            f.write(data)
    img = os.path.join(work, "disk.img")
    args = {"ext4": ["-t", "ext4"], "ext4-4k": ["-t", "ext4", "-b", "4096"]}[a.fs]
    subprocess.run(["mke2fs", "-q", "-F", *args, "-d", tree, img, "64M"], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    before = os.stat(img).st_blocks
    status, out = boot(a, work, [img + ":/data"], "--log=info", ["/data"])
    if "panic" in out.lower():
        return fail("the kernel panicked", out)
    if status != 0 or "PASS disk_discard" not in out:
        return fail(f"guest status {status}", out)
    after = os.stat(img).st_blocks
    # big (8 MiB) and 2 MiB of punched: 20480 blocks of 512 bytes freed;
    # most of it must be gone from the host's image.
    if after > before - 18000:
        return fail(f"the image holds {after} blocks, {before} before: the freed blocks were not given back", out)
    r = subprocess.run(["e2fsck", "-fn", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        return fail(f"e2fsck -fn: status {r.returncode}", r.stdout + "\n--- guest ---\n" + out)
    dump = os.path.join(work, "dump")
    for name in ("keep", "punched"):
        subprocess.run(["debugfs", "-R", f"dump /{name} {dump}", img], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(dump, "rb") as f:
            got = f.read()
        want = files[name]
        if name == "punched":
            want = want[:1 << 20] + bytes(2 << 20) + want[3 << 20:]
        if got != want:
            return fail(f"{name} differs from what was written (and punched)", out)
    if re.search(r"\bbig\b", debugfs(img, "ls /")):
        return fail("big is still in the directory", out)
    print(f"PASS disk discard {a.fs}: {before} -> {after} blocks allocated, e2fsck clean, files intact")
    return 0


def case_write(a, work):
    tree = os.path.join(work, "tree")
    os.makedirs(os.path.join(tree, "sub"))
    with open(os.path.join(tree, "a.txt"), "w") as f:
        f.write("hello ext4\n")
    if a.then == "xattr":
        # An attribute mke2fs -d copies (shutil.copytree copies it too).
        with open(os.path.join(tree, "x_src"), "w") as f:
            f.write("attributes")
        os.setxattr(os.path.join(tree, "x_src"), "user.origin", b"host")
    if a.htree:
        # 400 names, which e2fsck -D indexes: the guest adds thousands.
        os.makedirs(os.path.join(tree, "big"))
        for i in range(400):
            with open(os.path.join(tree, "big", f"old{i}_padding_padding"), "w") as f:
                f.write(str(i))
    img = os.path.join(work, "disk.img")
    args = {"ext4": ["-t", "ext4"], "ext4-4k": ["-t", "ext4", "-b", "4096"]}[a.fs]
    subprocess.run(["mke2fs", "-q", "-F", *args, "-d", tree, img, "16M" if a.fill else "64M"], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if a.htree:
        r = subprocess.run(["e2fsck", "-fyD", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode not in (0, 1) or "Root node dump" not in debugfs(img, "htree /big"):
            return fail("e2fsck -D gave /big no index", r.stdout)
    # The same program on the host, over a tmpfs copy of the starting tree.
    shm = tempfile.mkdtemp(prefix="capsule-disk-write-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        host_root = os.path.join(shm, "root")
        shutil.copytree(tree, host_root, symlinks=True)
        extra = ["fill"] if a.fill else ["threads"] if a.threads else ["htree"] if a.htree else [a.then] if a.then else []
        host = subprocess.run([a.program, host_root] + [x for x in extra if x != "fill"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if host.returncode != 0 or "PASS disk_write" not in host.stdout:
            return fail("disk_write failed on the host", host.stdout)
        status, out = boot(a, work, [img + ":/data"], "--log=info" if a.cpus > 1 else "", ["/data"] + extra)
        if "panic" in out.lower():
            return fail("the kernel panicked", out)
        if status != 0 or "PASS disk_write" not in out:
            return fail(f"guest status {status}", out)
        if a.cpus > 1 and not queues_ok(a, out):
            return fail(f"not {a.cpus} request queues per disk", out)
        # Lines the program prints for comparison ("xattr FILE NAME LEN SUM").
        want_x = [l for l in host.stdout.splitlines() if l.startswith("xattr ")]
        got_x = [l.strip() for l in out.splitlines() if l.startswith("xattr ")]
        if want_x != got_x:
            return fail("attributes differ:\nhost:\n" + "\n".join(want_x) + "\nguest:\n" + "\n".join(got_x), out)
        r = subprocess.run(["e2fsck", "-fn", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            return fail(f"e2fsck -fn: status {r.returncode}", r.stdout + "\n--- guest ---\n" + out)
        dump = os.path.join(work, "dump")
        os.makedirs(dump)
        subprocess.run(["debugfs", "-R", f"rdump / {dump}", img], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        diffs = compare_trees(host_root, dump)
        if diffs:
            return fail("the image differs from the host's tree:\n" + "\n".join(diffs[:20]), out)
        count = sum(len(d) + len(f) for _, d, f in os.walk(host_root))
    finally:
        shutil.rmtree(shm, ignore_errors=True)
    mode = " fill" if a.fill else f" threads on {a.cpus} CPUs" if a.threads else " htree" if a.htree else \
        f" {a.then}" if a.then else ""
    print(f"PASS disk write {a.fs}{mode}: e2fsck clean, {count} entries as on the host")
    return 0


RECORD_SIZE = 100  # disk_write.c's crash-test records


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h


def check_records(data, last):
    """None when records 0..last of disk_write's loop/records are all
    there and intact (magic, sequence number, checksum), else the first
    problem. Records after `last` (not reported fsync'd) may be missing."""
    for seq in range(last + 1):
        r = data[seq * RECORD_SIZE:(seq + 1) * RECORD_SIZE]
        if len(r) < RECORD_SIZE:
            return f"record {seq} is missing: the file has {len(data)} bytes, {last + 1} records were fsync'd"
        if (r[:4] != b"REC!" or int.from_bytes(r[4:8], "little") != seq
                or fnv1a(r[:-4]) != int.from_bytes(r[-4:], "little")):
            return f"record {seq} is damaged: {r.hex()}"
    return None


def records_of(img, work):
    dump = os.path.join(work, "records")
    if os.path.exists(dump):
        os.unlink(dump)
    subprocess.run(["debugfs", "-R", f"dump /loop/records {dump}", img], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    if not os.path.exists(dump):
        return None
    with open(dump, "rb") as f:
        return f.read()


def crash_once(a, work, template, delay):
    """One moment: disk_write's loop killed `delay` seconds after it
    started (SIGKILL to QEMU). Returns (None, summary) or (problem, output)."""
    import threading
    import time
    img = os.path.join(work, "disk.img")
    shutil.copyfile(template, img)
    initrd, guest = image.static_program_initrd(a.program, work)
    cmd = qemu.command(a.kernel, machine=a.machine, mem="256M", cpus=1, accel="tcg",
                       cmdline=f"-- {guest} /data loop", initrd=initrd,
                       status_file=os.path.join(work, "status"), disks=[img + ":/data"])
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks, looping = [], threading.Event()

    def reader():  # drains the console all along, so the guest never waits on it
        for line in iter(p.stdout.readline, b""):
            chunks.append(line)
            if line.startswith(b"looping"):
                looping.set()
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    started = looping.wait(a.timeout)
    if started:
        time.sleep(delay)
    p.kill()  # SIGKILL: nothing of the guest's shutdown runs
    p.wait()
    th.join(10)
    text = b"".join(chunks).decode(errors="replace")
    if not started:
        return "the guest never started its loop", text
    if "panic" in text.lower() or "FAIL" in text:
        return "the kernel panicked or the program failed", text
    # The last number the guest reported fsync'd (a line cut by the kill is not a report).
    done = re.findall(r"^fsynced (\d+)\n", text, re.M)
    last = int(done[-1]) if done else -1
    h = dumpe2fs(img)
    if h.get("Filesystem state") != "not clean":
        return f"after the kill the state is {h.get('Filesystem state')!r}, not 'not clean'", text
    if "needs_recovery" not in h.get("Filesystem features", ""):
        return f"after the kill the features are {h.get('Filesystem features')!r}: no needs_recovery", text
    # A copy booted again: the kernel's own replay, then a write.
    img2 = os.path.join(work, "again.img")
    shutil.copyfile(img, img2)
    status, out2 = boot(a, work, [img2 + ":/data"], "", ["/data", "touch"])
    if status != 0 or "PASS disk_write" not in out2:
        return f"the second boot on the crashed image: status {status}", out2
    r3 = subprocess.run(["e2fsck", "-fn", img2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r3.returncode != 0:
        return f"e2fsck -fn after the kernel's own replay: status {r3.returncode}", r3.stdout + out2
    if debugfs(img2, "cat /after_crash") != "written after the crash\n":
        return "the file written after the replay is not there", out2
    data2 = records_of(img2, work)
    problem = check_records(data2 or b"", last)
    if problem:
        return f"after the kernel's own replay: {problem}", text
    # e2fsck on the image as the kill left it.
    r = subprocess.run(["e2fsck", "-fy", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode not in (0, 1):
        return f"e2fsck -fy: status {r.returncode}", r.stdout
    if "recovering journal" not in r.stdout:
        return "e2fsck -fy did not replay the journal", r.stdout
    # The journal holds every change whole: nothing but the replay to do.
    fixes = [l for l in r.stdout.splitlines() if re.search(r"\? yes|FIXED", l)]
    if fixes:
        return "e2fsck -fy had to fix more than the journal replay:\n" + "\n".join(fixes), r.stdout
    r2 = subprocess.run(["e2fsck", "-fn", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r2.returncode != 0:
        return f"e2fsck -fn after the replay: status {r2.returncode}", r2.stdout
    data = records_of(img, work)
    problem = check_records(data or b"", last)
    if problem:
        return f"after e2fsck's replay: {problem}", text
    return None, f"{last + 1} records fsync'd, {len(data or b'') // RECORD_SIZE} whole records on the disk"


def case_crash(a, work):
    tree = os.path.join(work, "tree")
    os.makedirs(os.path.join(tree, "sub"))
    with open(os.path.join(tree, "a.txt"), "w") as f:
        f.write("hello ext4\n")
    template = os.path.join(work, "template.img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-d", tree, template, "32M"], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 32)
    rnd = random.Random(seed)
    # Moments from 0.1 s to 3 s after the loop starts: from its first
    # records to a few hundred (reproduce a failure with --seed).
    delays = [round(rnd.uniform(0.1, 3.0), 3) for _ in range(a.moments)]
    print(f"crash: {a.moments} moments, seed {seed}: {delays}", flush=True)
    for i, delay in enumerate(delays):
        problem, detail = crash_once(a, work, template, delay)
        if problem:
            return fail(f"moment {i + 1} of {a.moments} ({delay} s, seed {seed}): {problem}", detail)
        print(f"moment {i + 1:2} ({delay:5.3f} s): clean after either replay; {detail}", flush=True)
    print(f"PASS disk crash: {a.moments} kills (seed {seed}): each 'not clean, needs_recovery'; e2fsck replayed"
          " the journal and nothing else, the kernel's own replay mounted it read-write; every fsync'd record"
          " intact after both")
    return 0


# disk_writeback.c's overwrites for its exit and flusher modes: (offset,
# length, seed), and its byte pattern.
WRITEBACK_PIECES = ((4096, 4096, 1), (40000, 5000, 2), (61440 - 100, 200, 3))


def writeback_pattern(off, n, seed):
    return bytes(((p * 7 + seed * 13 + p // 4096) & 0xff) for p in range(off, off + n))


def case_writeback(a, work):
    """Overwrites that no fsync asked for (docs/ext4.md "Write-back"):
    written back at the program's exit (exit), by the flusher before a
    kill -9 (flusher), and kept while the page cache is evicted around
    them in a 64 MiB VM (evict). The host reads the image with debugfs:
    the new bytes where the program wrote, 'A' elsewhere, the size as it
    was; e2fsck clean (after replaying the journal, for the kill). sync:
    O_DSYNC overwrites, an O_SYNC new file and a pwritev2(RWF_DSYNC) one,
    the VM killed as soon as they returned: all on the image."""
    import threading
    import time
    tree = os.path.join(work, "tree")
    os.makedirs(tree)
    f_size = (32 << 20) if a.mode == "evict" else 65536
    with open(os.path.join(tree, "f"), "wb") as f:
        f.write(b"A" * f_size)
    if a.mode == "evict":
        with open(os.path.join(tree, "big"), "wb") as f:
            f.write(os.urandom(48 << 20))
    img = os.path.join(work, "disk.img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "128M" if a.mode == "evict" else "16M"],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    want = bytearray(b"A" * f_size)
    if a.mode == "evict":
        want[0:16 << 20] = writeback_pattern(0, 16 << 20, 5)
    else:
        for off, n, seed in WRITEBACK_PIECES:
            want[off:off + n] = writeback_pattern(off, n, seed)
    if a.mode in ("flusher", "sync"):
        token = b"slept" if a.mode == "flusher" else b"synced"
        initrd, guest = image.static_program_initrd(a.program, work)
        cmd = qemu.command(a.kernel, machine=a.machine, mem=a.mem, cpus=a.cpus, accel="tcg",
                           cmdline=f"-- {guest} /data {a.mode}", initrd=initrd,
                           status_file=os.path.join(work, "status"), disks=[img + ":/data"])
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        chunks, slept = [], threading.Event()

        def reader():
            for line in iter(p.stdout.readline, b""):
                chunks.append(line)
                if line.startswith(token):
                    slept.set()
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        ok = slept.wait(a.timeout)
        p.kill()  # SIGKILL: no exit path runs; only the flusher (or O_SYNC) can have written
        p.wait()
        th.join(10)
        out = b"".join(chunks).decode(errors="replace")
        if not ok or "FAIL" in out or "panic" in out.lower():
            return fail(f"the program did not reach '{token.decode()}'", out)
        r = subprocess.run(["e2fsck", "-fy", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode not in (0, 1):
            return fail(f"e2fsck -fy after the kill: status {r.returncode}", r.stdout)
    else:
        status, out = boot(a, work, [img + ":/data"], "", ["/data", a.mode])
        if status != 0 or f"PASS disk_writeback {a.mode}" not in out:
            return fail(f"the program failed (status {status})", out)
    r = subprocess.run(["e2fsck", "-fn", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        return fail(f"e2fsck -fn: status {r.returncode}", r.stdout + out)
    dump = os.path.join(work, "f.out")
    subprocess.run(["debugfs", "-R", f"dump /f {dump}", img], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    with open(dump, "rb") as f:
        got = f.read()
    if len(got) != f_size:
        return fail(f"/f is {len(got)} bytes on the disk, want {f_size}", out)
    if got != bytes(want):
        i = next(i for i in range(f_size) if got[i] != want[i])
        return fail(f"/f on the disk differs from what the program wrote, first at byte {i} "
                    f"({got[i]:#x}, want {want[i]:#x})", out)
    if a.mode == "sync":
        # The O_SYNC and RWF_DSYNC files: their blocks, size and names were
        # committed before each write returned.
        for name, size, seed in (("n", 30000, 4), ("p", 20000, 6)):
            dump = os.path.join(work, name + ".out")
            r = subprocess.run(["debugfs", "-R", f"dump /{name} {dump}", img], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if not os.path.exists(dump):
                return fail(f"/{name} is not on the disk after the kill", r.stdout + out)
            with open(dump, "rb") as f:
                got = f.read()
            if got != writeback_pattern(0, size, seed):
                return fail(f"/{name} on the disk is {len(got)} bytes and not what was written "
                            f"(want {size})", out)
    print(f"PASS disk writeback {a.mode}")
    return 0


def case_not_ext4(a, work):
    img = os.path.join(work, "pattern.img")
    pattern_image(img)
    status, out = boot(a, work, [img + ":/data"], "", ["/data"])
    want = r"disk capsule0 \((vd[a-z]|nvme\d+n1)\): not an ext2/ext3/ext4 file system: no ext2/3/4 superblock \(magic\); /data is not mounted"
    if not re.search(want, out):
        return fail(f"expected /{want}/", out)
    if status != 0 or "PASS disk_tree" not in out:
        return fail(f"the program did not run to the end (status {status})", out)
    print("PASS disk not_ext4")
    return 0


def case_bad_root(a, work):
    """A root disk that is not ext4, and one whose superblock is damaged:
    one clear line and status 2 (no program can be found), never a panic.
    (A damaged file inside a good image is EIO for that file alone: the
    ext4 corrupt cases, which read through the same code.)"""
    img = os.path.join(work, "pattern.img")
    pattern_image(img)
    cases = [(img, r"capsule: root disk capsule-root \(vd[a-z]\): not an ext2/ext3/ext4 file system: "
                   r"no ext2/3/4 superblock \(magic\); stopping")]
    top = os.path.join(work, "image")
    make_overlay_tree(os.path.join(top, "data"))
    bad_sb = os.path.join(work, "bad_sb.img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal", "-d", top, bad_sb, "16M"],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    flip(bad_sb, 1024 + 0x4)  # s_blocks_count_lo: no longer what the disk holds
    cases.append((bad_sb, r"capsule: root disk capsule-root \(vd[a-z]\): \S.*; stopping"))
    for disk, want in cases:
        status, out = boot(a, work, [], "", ["/data"], root_disk=disk)
        if not re.search(want, out):
            return fail(f"expected /{want}/", out)
        if status != 2 or "panic" in out:
            return fail(f"expected status 2 and no panic, got {status}", out)
    print("PASS disk bad_root")
    return 0


def case_corrupt(a, work):
    tree = os.path.join(work, "tree")
    make_tree(tree)
    img = os.path.join(work, "disk.img")
    make_image(tree, img, "ext4")
    h = dumpe2fs(img)
    bs = int(h["Block size"])
    checks = ["/data"]
    expect = None
    if a.kind == "sb_magic":
        flip(img, 1024 + 0x38)
        expect = r"not an ext2/ext3/ext4 file system: no ext2/3/4 superblock \(magic\); /data is not mounted"
    elif a.kind == "sb_field":
        flip(img, 1024 + 0x28, 0x01)  # s_inodes_per_group
        expect = r"unusable: superblock checksum 0x[0-9a-f]+, expected 0x[0-9a-f]+; /data is not mounted"
    elif a.kind == "gd":
        first = 1 if bs == 1024 else 0
        flip(img, (first + 1) * bs + 0x8, 0x10)  # group 0's inode table
        expect = r"unusable: corrupted group descriptor 0 \(checksum or inode table\); /data is not mounted"
    elif a.kind == "inode":
        m = re.search(r"located at block (\d+), offset 0x([0-9a-f]+)", debugfs(img, "imap /odd_size"))
        flip(img, int(m.group(1)) * bs + int(m.group(2), 16) + 0x4, 0x01)  # i_size_lo: the checksum no longer holds
        checks += ["eio=odd_size"]
    elif a.kind == "extent":
        ex = debugfs(img, "ex /frag")
        m = re.search(r"^\s*0/\s*1\s+\d+/\s*\d+\s+\d+\s*-\s*\d+\s+(\d+)", ex, re.M)
        if not m:
            return fail(f"/frag has no depth-1 extent tree:\n{ex}")
        flip(img, int(m.group(1)) * bs, 0xff)  # the leaf's magic
        checks += ["eio=frag"]
    elif a.kind == "extent_csum":
        ex = debugfs(img, "ex /frag")
        m = re.search(r"^\s*0/\s*1\s+\d+/\s*\d+\s+\d+\s*-\s*\d+\s+(\d+)", ex, re.M)
        flip(img, int(m.group(1)) * bs + 12 + 4, 0x02)  # first extent's length 4 -> 6: valid, but the checksum no longer holds
        checks += ["eio=frag"]
    elif a.kind == "dir_csum":
        blocks = debugfs(img, "blocks /sub").split()
        with open(img, "rb") as f:
            f.seek(int(blocks[0]) * bs)
            off = f.read(bs).find(b"setgid")
        flip(img, int(blocks[0]) * bs + off, 0x01)  # a name changed, the entry still well-formed
        checks += ["eio=sub"]
    elif a.kind == "dir":
        blocks = debugfs(img, "blocks /sub").split()
        flip(img, int(blocks[0]) * bs + 4, 0x03)  # the first entry's rec_len: not a multiple of 4
        checks += ["eio=sub"]
    else:
        return fail(f"unknown kind {a.kind}")
    # --log=info: the disks' boot lines (queues_ok).
    status, out = boot(a, work, [img + ":/data:ro"], "--log=info" if a.cpus > 1 else "", checks)
    if "panic" in out.lower():
        return fail("the kernel panicked", out)
    if expect and not re.search(expect, out):
        return fail(f"expected /{expect}/", out)
    if status != 0 or "PASS disk_tree" not in out:
        return fail(f"guest status {status}", out)
    print(f"PASS disk corrupt {a.kind}")
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--program", help="disk_tree, built static")
    p.add_argument("--machine", default="microvm")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--fs", default="ext4")
    p.add_argument("--cpus", type=int, default=1, help="tree: with more than 1, also 4 threads reading at once")
    p.add_argument("--kind")
    p.add_argument("--mem", default="256M", help="guest memory")
    p.add_argument("--kernel-word", dest="kernel_words", action="append", default=[],
                   help="a kernel option for the runs of the program (e.g. --irq-off-max-ms=2000)")
    p.add_argument("--bus", choices=["virtio", "nvme", "mixed"], default="virtio",
                   help="the disks' bus: virtio-blk, NVMe (q35), or the first virtio-blk and the others NVMe")
    p.add_argument("--nvme-block", type=int, default=0, help="NVMe logical block size (QEMU's default: 512)")
    p.add_argument("--fill", action="store_true", help="write: then fill the disk (ENOSPC) and empty it")
    p.add_argument("--threads", action="store_true", help="write: then 4 threads change files at once")
    p.add_argument("--htree", action="store_true",
                   help="write: then thousands of names added to an htree directory, half removed, some renamed")
    p.add_argument("--then", choices=["frag", "falloc", "xattr"],
                   help="write: then disk_write's step of that name (a fragmented file's deep extent tree; fallocate)")
    p.add_argument("--moments", type=int, default=20, help="crash: how many kills")
    p.add_argument("--seed", type=int, help="crash: the seed of the kill moments (default: random, printed)")
    p.add_argument("--mode", choices=["exit", "flusher", "sync", "evict"], default="exit",
                   help="writeback: what writes the overwrites back (disk_writeback.c)")
    p.add_argument("case", choices=["ktest", "tree", "not_ext4", "corrupt", "write", "crash", "big", "overlay",
                                    "bad_root", "blkops", "discard", "writeback"])
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="capsule-disk-")
    try:
        return {"ktest": case_ktest, "tree": case_tree, "not_ext4": case_not_ext4,
                "corrupt": case_corrupt, "write": case_write, "crash": case_crash, "big": case_big,
                "overlay": case_overlay, "bad_root": case_bad_root, "blkops": case_blkops, "discard": case_discard,
                "writeback": case_writeback}[a.case](a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
