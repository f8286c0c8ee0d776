"""Writes cpio "newc" (070701) archives for QEMU's -initrd (docs/initrd.md).

Standard library only. Output is deterministic: entries sorted by guest path,
inode numbers assigned in order, and (optionally) one fixed mtime and
uid/gid 0, so the same tree always gives the same bytes.

    python3 cpio.py OUT.cpio DIR                 # pack a directory tree
    python3 cpio.py OUT.cpio --map HOST=GUEST ... # pack explicit files
    options: --mtime N (fixed mtime), --keep-owner (uid/gid from the host)

Format (cpio(5) "New ASCII Format"): a 110-byte header of "070701" and
thirteen 8-digit hex fields, the NUL-terminated name padded to 4 bytes, the
data padded to 4 bytes, and a final entry named "TRAILER!!!".

The data of a regular file of at least a page starts on a 4096-byte
boundary of the archive: its name is followed by as many NULs as that
takes (counted in c_namesize, which stays within Linux's PATH_MAX; a name
too long for the padding goes unaligned). QEMU loads the initrd page
aligned, so the kernel maps such files' pages where they lie instead of
copying them (docs/initrd.md).
"""
import argparse
import os
import stat
import sys

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
BLOCK = 512  # cpio archives end on a 512-byte boundary by tradition
PAGE = 4096  # file data of at least this size starts page aligned
HEADER = 110
NAME_MAX_SIZE = 4096  # c_namesize (NUL included) that Linux's unpacker takes: PATH_MAX


def _pad4(n):
    return (4 - n % 4) % 4


class Entry:
    """One archive member: `path` is the guest path without a leading '/'."""

    def __init__(self, path, mode, data=b"", mtime=0, uid=0, gid=0, nlink=None,
                 link_key=None, rdev=(0, 0), source=None, size=0):
        self.path = path
        self.mode = mode
        self.data = data
        self.source = source  # host file streamed in at write time (size bytes)
        self.size = size if source else len(data)
        self.mtime = mtime
        self.uid = uid
        self.gid = gid
        self.nlink = nlink
        self.link_key = link_key  # same key = same inode (hard links)
        self.rdev = rdev


def _header(ino, mode, uid, gid, nlink, mtime, filesize, rdev, namesize):
    fields = [ino, mode, uid, gid, nlink, mtime, filesize,
              0, 0,  # dev major/minor: one file system
              rdev[0], rdev[1], namesize,
              0]  # c_check: zero for 070701
    for v in fields:
        if not 0 <= v <= 0xFFFFFFFF:
            raise ValueError(f"cpio field out of range: {v}")
    return MAGIC + b"".join(b"%08X" % v for v in fields)


def _stream(host, size, emit):
    """Copies exactly `size` bytes of `host` (1 MiB at a time: a 100 MB tree
    never sits in memory); a file that changed size since it was listed is
    an error rather than a corrupt archive."""
    left = size
    with open(host, "rb") as f:
        while left:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                raise ValueError(f"{host}: shrank while packing")
            emit(chunk)
            left -= len(chunk)


def write(out, entries):
    """Writes `entries` (sorted by the caller or not: they are sorted here)
    to the binary file `out`. Hard links (entries sharing a link_key) share an
    inode number; the data goes with the first name, the others have size 0.
    """
    entries = sorted(entries, key=lambda e: e.path)
    pos = 0
    inodes = {}
    counts = {}
    for e in entries:
        if e.link_key is not None:
            counts[e.link_key] = counts.get(e.link_key, 0) + 1
    next_ino = 1
    seen_data = set()

    def emit(b):
        nonlocal pos
        out.write(b)
        pos += len(b)

    for e in entries:
        name = e.path.encode()
        if b"\0" in name or not name:
            raise ValueError(f"bad guest path {e.path!r}")
        data, size = e.data, e.size
        if e.link_key is not None and e.link_key in inodes:
            ino = inodes[e.link_key]
        else:
            ino = next_ino
            next_ino += 1
            if e.link_key is not None:
                inodes[e.link_key] = ino
        if e.link_key is not None:
            nlink = counts[e.link_key]
            if e.link_key in seen_data:
                data, size = b"", 0
            seen_data.add(e.link_key)
        else:
            nlink = e.nlink or (2 if stat.S_ISDIR(e.mode) else 1)
        namesize = len(name) + 1
        if stat.S_ISREG(e.mode) and size >= PAGE:
            pad = (-(pos + HEADER + namesize)) % PAGE
            if namesize + pad <= NAME_MAX_SIZE:
                namesize += pad
        emit(_header(ino, e.mode, e.uid, e.gid, nlink, e.mtime, size, e.rdev, namesize))
        emit(name + b"\0" * (namesize - len(name)))
        emit(b"\0" * _pad4(pos))
        if e.source and size:
            _stream(e.source, size, emit)
        else:
            emit(data)
        emit(b"\0" * _pad4(pos))
    name = TRAILER.encode()
    emit(_header(0, 0, 0, 0, 1, 0, 0, (0, 0), len(name) + 1))
    emit(name + b"\0")
    emit(b"\0" * _pad4(pos))
    emit(b"\0" * ((BLOCK - pos % BLOCK) % BLOCK))


def _entry_for(host, guest, mtime, keep_owner):
    st = os.lstat(host)
    m = st.st_mode
    kw = dict(mtime=int(st.st_mtime) if mtime is None else mtime,
              uid=st.st_uid if keep_owner else 0, gid=st.st_gid if keep_owner else 0)
    if stat.S_ISLNK(m):
        return Entry(guest, m, os.readlink(host).encode(), **kw)
    if stat.S_ISDIR(m):
        return Entry(guest, m, **kw)
    if stat.S_ISREG(m):
        key = (st.st_dev, st.st_ino) if st.st_nlink > 1 else None
        return Entry(guest, m, source=host, size=st.st_size, link_key=key, **kw)
    if stat.S_ISCHR(m) or stat.S_ISBLK(m):
        return Entry(guest, m, rdev=(os.major(st.st_rdev), os.minor(st.st_rdev)), **kw)
    if stat.S_ISFIFO(m):
        return Entry(guest, m, **kw)
    raise ValueError(f"cannot pack {host}: unsupported file type")


def _guest(path):
    path = os.path.normpath("/" + path).lstrip("/")
    if not path or path == ".":
        raise ValueError("guest path is the root")
    return path


def tree_entries(root, mtime=None, keep_owner=False, prefix=""):
    """Entries for everything under `root` (not root itself), symlinks kept
    as symlinks, empty directories included; guest paths are `prefix`/rel."""
    entries = []
    root = os.path.abspath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            host = os.path.join(dirpath, n)
            rel = os.path.relpath(host, root)
            entries.append(_entry_for(host, _guest(os.path.join(prefix, rel)), mtime, keep_owner))
    return entries


def map_entries(pairs, mtime=None, keep_owner=False):
    """Entries for explicit (host path, guest path) pairs, plus the parent
    directories they need (mode 0755). A host directory is packed whole."""
    entries = {}
    for host, guest in pairs:
        guest = _guest(guest)
        if os.path.isdir(host) and not os.path.islink(host):
            entries[guest] = _entry_for(host, guest, mtime, keep_owner)
            for e in tree_entries(host, mtime, keep_owner, prefix=guest):
                entries[e.path] = e
        else:
            entries[guest] = _entry_for(host, guest, mtime, keep_owner)
    for path in list(entries):
        parent = os.path.dirname(path)
        while parent and parent not in entries:
            entries[parent] = Entry(parent, stat.S_IFDIR | 0o755, mtime=mtime or 0)
            parent = os.path.dirname(parent)
    return list(entries.values())


def write_file(path, entries):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        write(f, entries)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description="Write a cpio newc initrd.")
    p.add_argument("out")
    p.add_argument("dir", nargs="?", help="host directory to pack")
    p.add_argument("--map", action="append", default=[], metavar="HOST=GUEST")
    p.add_argument("--mtime", type=int, default=None, help="fixed mtime for every entry")
    p.add_argument("--keep-owner", action="store_true")
    a = p.parse_args(argv)
    entries = []
    if a.dir:
        entries += tree_entries(a.dir, a.mtime, a.keep_owner)
    pairs = []
    for m in a.map:
        if "=" not in m:
            p.error(f"--map wants HOST=GUEST, got {m!r}")
        pairs.append(tuple(m.split("=", 1)))
    if pairs:
        entries += map_entries(pairs, a.mtime, a.keep_owner)
    if not a.dir and not pairs:
        p.error("nothing to pack: give a directory or --map")
    by_path = {e.path: e for e in entries}
    write_file(a.out, list(by_path.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
