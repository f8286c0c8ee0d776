"""Root disks (docs/overlay.md "A disk root", docs/cli.md "Large images"):
an image's tree as a read-only ext4 file system, so that a large program
boots from a disk instead of an initrd that guest memory must hold whole.

The tree is written into a scratch directory (files copied, symlinks,
hard-link groups kept, modes and mtimes as the cpio would carry them),
Debian's `mke2fs -d` makes the file system from it (no journal: the disk
is never written), and one `debugfs -w` script gives every entry owner
0:0 and its exact mode (as the initrd has them; the scratch copy belongs
to the user running the CLI and keeps owner read permission) and removes
mke2fs's lost+found. The result
is cached by content like the cpio (imagecache.image_for kind="ext4")."""
import os
import shutil
import stat
import subprocess
import tempfile

FORMAT = "rootdisk-2"  # in the cache key: bump when the making changes
# `capsule run --root auto`: a packed image larger than this boots from a
# root disk.
AUTO_THRESHOLD = 64 << 20
BLOCK = 4096


def _tool(name):
    for d in ("/usr/sbin", "/sbin", *os.environ.get("PATH", "").split(os.pathsep)):
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise OSError(f"{name} not found: a root disk needs e2fsprogs (apt-get install e2fsprogs)")


def image_bytes(tree):
    """What the tree's data takes: the cpio's size, near enough."""
    return sum(n.size if n.host is not None else len(n.data or b"")
               for n in tree.nodes.values() if n.kind == "file")


def use_disk(root, tree, mem_mib=None):
    """--root disk|initrd|auto -> whether the root is a disk. auto: a
    packed image over AUTO_THRESHOLD, unless the memory the user asked for
    (--mem, MiB) holds it twice over: then the initrd, whose files never
    wait for the disk (docs/cli.md "A disk root")."""
    if root == "disk":
        return True
    if root == "initrd":
        return False
    size = image_bytes(tree)
    if mem_mib and size * 2 <= mem_mib << 20:
        return False
    return size > AUTO_THRESHOLD


def _materialize(tree, top):
    """The tree under `top`; returns the debugfs lines that set what the
    scratch copy could not (owner, exact mode)."""
    fixes = []
    groups = {}
    for path in sorted(tree.nodes):  # a parent sorts before its children
        if path == "/":
            continue
        n = tree.nodes[path]
        dst = os.path.join(top, path.lstrip("/"))
        if n.kind == "dir":
            os.mkdir(dst, 0o755)
        elif n.kind == "link":
            os.symlink(n.target, dst)
        elif n.key is not None and n.key in groups:
            os.link(groups[n.key], dst)
        else:
            if n.host is not None:
                shutil.copyfile(n.host, dst)
            else:
                with open(dst, "wb") as f:
                    f.write(n.data or b"")
            if n.key is not None:
                groups[n.key] = dst
    # Modes and times children first: making an entry changes its
    # directory's mtime.
    for path in sorted(tree.nodes, reverse=True):
        n = tree.nodes[path]
        dst = os.path.join(top, path.lstrip("/")) if path != "/" else top
        quoted = '"' + path + '"'
        usable = '"' not in path and "\n" not in path
        if n.kind == "link":
            os.utime(dst, (n.mtime, n.mtime), follow_symlinks=False)
        else:
            kind = stat.S_IFDIR if n.kind == "dir" else stat.S_IFREG
            mode = n.mode if path != "/" else 0o755
            readable = mode | (0o700 if n.kind == "dir" else 0o600)
            os.chmod(dst, readable & 0o777)
            os.utime(dst, (n.mtime, n.mtime))
            if usable and (readable != mode or mode & 0o7000):
                fixes.append(f"sif {quoted} mode 0{kind | mode:o}")
        if usable:
            fixes.append(f"sif {quoted} uid 0")
            fixes.append(f"sif {quoted} gid 0")
    return fixes


def pack(tree, out):
    """Writes the ext4 image of `tree` to `out`."""
    mke2fs, debugfs = _tool("mke2fs"), _tool("debugfs")
    data = sum((n.size if n.host is not None else len(n.data or b"")) + BLOCK - 1
               for n in tree.nodes.values() if n.kind == "file") // BLOCK * BLOCK
    entries = len(tree.nodes)
    # Data, a block per directory and symlink, inode tables (256 bytes an
    # inode), 1/16 for extent blocks and the allocator's slack, 8 MiB floor.
    size = data + entries * (BLOCK + 256) + data // 16 + (8 << 20)
    with tempfile.TemporaryDirectory(prefix="capsule-rootdisk-") as work:
        top = os.path.join(work, "root")
        os.mkdir(top)
        fixes = _materialize(tree, top)
        if os.path.exists(out):
            os.unlink(out)
        r = subprocess.run([mke2fs, "-q", "-F", "-t", "ext4", "-b", str(BLOCK), "-O", "^has_journal",
                            "-N", str(entries + 64), "-m", "0", "-L", "capsule-root", "-E", "root_owner=0:0",
                            "-d", top, out, f"{(size + 1023) // 1024}k"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise OSError(f"mke2fs could not make the root disk: {r.stdout.strip()}")
        script = os.path.join(work, "fixes")
        with open(script, "w") as f:
            # mke2fs's lost+found is no file of the image (an initrd has none).
            lost = "" if "/lost+found" in tree.nodes else "rmdir /lost+found\n"
            f.write("\n".join(fixes) + "\n" + lost)
        r = subprocess.run([debugfs, "-w", "-f", script, out], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise OSError(f"debugfs could not set the root disk's owners: {r.stderr.strip()}")
