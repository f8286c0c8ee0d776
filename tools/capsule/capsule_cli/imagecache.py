"""Images cached by content: the same tree never gets packed twice.

The key of an image is a SHA-256 over every node of the tree (guest path,
kind, mode, mtime, symlink target, hard-link group, and the SHA-256 of each
file's content). Hashing 100 MB on every run would cost more than packing,
so content hashes are remembered per host file under its stat identity
(device, inode, size, mtime_ns, ctime_ns) in hashes.json: an untouched file
is not read again, a touched one is re-hashed (its content decides, not its
timestamp). A key that is already in the cache is a hit and nothing is
packed.

Location: $CAPSULE_CACHE, else $XDG_CACHE_HOME/capsule, else
~/.cache/capsule. images/<key>.cpio; the oldest images beyond MAX_IMAGES
are removed. `PACKS` counts packs in this process (tests read it).
"""
import hashlib
import json
import os
import sys
import time

from . import cpio

FORMAT = "capsule-image-1"  # bump when the packing changes
MAX_IMAGES = 16
PACKS = 0


def cache_dir():
    d = os.environ.get("CAPSULE_CACHE")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "capsule")
    return d


class HashMemo:
    """Content hashes of host files keyed by their stat identity."""

    def __init__(self, path):
        self.path = path
        self.dirty = False
        try:
            with open(path) as f:
                self.table = json.load(f)
        except (OSError, ValueError):
            self.table = {}

    def digest(self, host):
        st = os.stat(host)
        k = f"{host}\0{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
        d = self.table.get(k)
        if d is None:
            h = hashlib.sha256()
            with open(host, "rb") as f:
                while True:
                    b = f.read(1 << 20)
                    if not b:
                        break
                    h.update(b)
            d = h.hexdigest()
            self.table[k] = d
            self.dirty = True
        return d

    def save(self):
        if not self.dirty:
            return
        # Forget files that are gone (temporary trees, replaced packages).
        self.table = {k: v for k, v in self.table.items() if os.path.exists(k.split("\0", 1)[0])}
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(self.table, f)
            os.replace(tmp, self.path)
        except OSError:
            pass


def tree_key(tree, memo, extra=""):
    h = hashlib.sha256(FORMAT.encode() + b"\0" + extra.encode() + b"\0")
    for path in sorted(tree.nodes):
        n = tree.nodes[path]
        if n.kind == "file":
            content = memo.digest(n.host) if n.host is not None else hashlib.sha256(n.data).hexdigest()
        else:
            content = n.target or ""
        h.update(f"{path}\0{n.kind}\0{n.mode:o}\0{n.mtime}\0{content}\0{n.key}\n".encode(errors="surrogateescape"))
    return h.hexdigest()


def log(verbose, msg):
    if verbose:
        print(f"capsule: {msg}", file=sys.stderr)


def image_for(tree, verbose=False, extra=""):
    """The path of the cpio image of `tree`, packing it only on a miss."""
    global PACKS
    root = cache_dir()
    images = os.path.join(root, "images")
    os.makedirs(images, exist_ok=True)
    memo = HashMemo(os.path.join(root, "hashes.json"))
    t0 = time.monotonic()
    key = tree_key(tree, memo, extra)
    memo.save()
    out = os.path.join(images, key[:32] + ".cpio")
    if os.path.exists(out):
        os.utime(out)  # most recently used
        log(verbose, f"image cache hit {key[:16]} ({os.path.getsize(out) >> 10} KiB, "
                     f"checked in {(time.monotonic() - t0) * 1000:.0f} ms)")
        return out
    t1 = time.monotonic()
    tmp = f"{out}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb", buffering=1 << 20) as f:
            cpio.write(f, tree.entries())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    PACKS += 1
    log(verbose, f"image cache miss {key[:16]}: packed {len(tree.nodes)} entries, "
                 f"{os.path.getsize(out) >> 10} KiB in {(time.monotonic() - t1) * 1000:.0f} ms")
    _evict(images)
    return out


def _evict(images):
    try:
        names = [os.path.join(images, n) for n in os.listdir(images) if n.endswith(".cpio")]
        names.sort(key=lambda p: os.path.getmtime(p), reverse=True)
        for p in names[MAX_IMAGES:]:
            os.unlink(p)
    except OSError:
        pass
