"""Images cached by content: the same tree never gets packed twice.

The key of an image is a SHA-256 over every node of the tree (guest path,
kind, mode, mtime, symlink target, hard-link group, and the SHA-256 of each
file's content). Hashing 100 MB on every run would cost more than packing,
so a run reads only two kinds of small files, none of them a table that
grows with what was ever built:

- stat/<H>: the image key of a tree whose *stat signature* hashes to H. The
  signature is the tree's nodes with, for each host file, its path and
  stat identity (device, inode, size, mtime_ns, ctime_ns) in place of its
  content. A cached run stats its files (the tree did already), hashes the
  signature and reads one file: no content is read. Any write to a file
  changes its ctime, so a changed input never matches an old signature.
- hash/<xx>/<h>: the content SHA-256 of one host file, named by a hash of
  its path and stat identity; read only when a signature is new (a file was
  touched): an untouched file is not read again, a touched one is re-hashed
  (its content decides, not its timestamp).

images/<key>.cpio holds the images (images/<key>.ext4 the root disks of
large ones, rootdisk.py); an image's mtime is its last use (set
on every hit). The cache is capped (CAPSULE_CACHE_MAX, default 2G; "0"
means no cap): after a pack, the least recently used images go until the
images fit, never the one just used nor one a running `capsule run` holds
(a shared flock on the image from its lookup to the end of the VM; eviction
takes an exclusive one without waiting, and a run that finds its image
replaced under the lock looks it up again). `capsule cache` lists, sizes,
prunes and clears it (cache_cmd.py).

Location: $CAPSULE_CACHE, else $XDG_CACHE_HOME/capsule, else
~/.cache/capsule. `PACKS` counts packs in this process (tests read it).
"""
import fcntl
import os
import sys
import time

FORMAT = "capsule-image-2"  # bump when the packing changes
DEFAULT_MAX = 2 << 30
PACKS = 0
# Signature files and content-hash files are swept (those whose image or
# host file is gone) at most this often, on a pack.
SWEEP_EVERY = 3600
MAX_SIGNATURES = 1024
try:  # the built-in SHA-256: importing hashlib loads OpenSSL, which a hit does not need
    from _sha256 import sha256 as _small_sha256
except ImportError:
    try:
        from _sha2 import sha256 as _small_sha256
    except ImportError:
        from hashlib import sha256 as _small_sha256
# Held shared locks: the image files of this process's runs (see in_use).
_held = []


def cache_dir():
    d = os.environ.get("CAPSULE_CACHE")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "capsule")
    return d


def parse_size(text):
    """'2G', '500M', '64K', '1048576' -> bytes; ValueError otherwise."""
    t = str(text).strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    digits = t[:-1] if t[-1:] in "KMGT" and t else t
    if not digits.isdigit():
        raise ValueError(f"bad size '{text}' (e.g. 2G, 500M, 0 for no cap)")
    return int(digits) * mult


def max_bytes():
    """The cap in bytes: $CAPSULE_CACHE_MAX, else DEFAULT_MAX; None when
    it is 0 (no cap)."""
    v = os.environ.get("CAPSULE_CACHE_MAX")
    if not v:
        return DEFAULT_MAX
    try:
        return parse_size(v) or None
    except ValueError as e:
        raise ValueError(f"CAPSULE_CACHE_MAX: {e}")


def _write_atomic(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _identity(st):
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


class HashMemo:
    """Content hashes of host files keyed by their path and stat identity,
    one small file each under `path` (a directory)."""

    def __init__(self, path):
        self.path = path

    def entry(self, host, st):
        h = _small_sha256(f"{host}\0{_identity(st)}".encode(errors="surrogateescape")).hexdigest()
        return os.path.join(self.path, h[:2], h[2:34])

    def digest(self, host):
        st = os.stat(host)
        e = self.entry(host, st)
        try:
            with open(e) as f:
                d = f.read(64)
            if len(d) == 64:
                return d
        except OSError:
            pass
        import hashlib
        h = hashlib.sha256()
        with open(host, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
        d = h.hexdigest()
        # The path and identity after the digest: the sweep re-checks them.
        _write_atomic(e, f"{d}\n{_identity(st)}\n{host}")
        return d

    def save(self):
        """Nothing to do: each entry is written when it is made."""

    def sweep(self):
        """Forget entries whose host file is gone or changed."""
        for p in _fanout_files(self.path):
            try:
                with open(p) as f:
                    _, ident, host = f.read().split("\n", 2)
                if _identity(os.stat(host)) == ident:
                    continue
            except (OSError, ValueError):
                pass
            try:
                os.unlink(p)
            except OSError:
                pass


def _fanout_files(top):
    """The files of a two-level store (top/XX/name); unreadable parts skipped."""
    try:
        subs = os.listdir(top)
    except OSError:
        return
    for sub in subs:
        d = os.path.join(top, sub)
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            yield os.path.join(d, n)


def _node_line(path, n, content):
    return f"{path}\0{n.kind}\0{n.mode:o}\0{n.mtime}\0{content}\0{n.key}\n".encode(errors="surrogateescape")


def tree_key(tree, memo, extra=""):
    import hashlib
    h = hashlib.sha256(FORMAT.encode() + b"\0" + extra.encode() + b"\0")
    for path in sorted(tree.nodes):
        n = tree.nodes[path]
        if n.kind == "file":
            content = memo.digest(n.host) if n.host is not None else hashlib.sha256(n.data).hexdigest()
        else:
            content = n.target or ""
        h.update(_node_line(path, n, content))
    return h.hexdigest()


def stat_signature(tree, extra=""):
    """A hash of the tree with each host file's path and stat identity in
    place of its content: equal signatures mean equal trees as long as no
    file was written (a write changes ctime)."""
    h = _small_sha256(b"stat\0" + FORMAT.encode() + b"\0" + extra.encode() + b"\0")
    for path in sorted(tree.nodes):
        n = tree.nodes[path]
        if n.kind == "file":
            if n.host is not None:
                content = f"{n.host}\0{_identity(os.stat(n.host))}"
            else:
                content = _small_sha256(n.data).hexdigest()
        else:
            content = n.target or ""
        h.update(_node_line(path, n, content))
    return h.hexdigest()


def log(verbose, msg):
    if verbose:
        print(f"capsule: {msg}", file=sys.stderr)


def _hold(path):
    """A shared lock on the image at `path` for the rest of this process
    (or until release()); None when the file is gone or was replaced."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise FileNotFoundError(path)  # evicted and re-made between open and lock
    except OSError:
        os.close(fd)
        return None
    _held.append(fd)
    return fd


def release():
    """Drops the locks of the images this process used (tests; the CLI
    keeps them until it exits)."""
    while _held:
        os.close(_held.pop())


def image_for(tree, verbose=False, extra="", label="", kind="cpio"):
    """The path of the cpio image of `tree` (kind "cpio") or of its ext4
    root disk (kind "ext4", rootdisk.py), packing it only on a miss. The
    image stays locked (shared) until this process exits or release()."""
    global PACKS
    if kind != "cpio":
        from . import rootdisk
        extra = f"{extra}\0{kind}\0{rootdisk.FORMAT}"
    ext = "." + kind
    root = cache_dir()
    images = os.path.join(root, "images")
    t0 = time.monotonic()
    sig = stat_signature(tree, extra)
    sig_file = os.path.join(root, "stat", sig[:2], sig[2:34])
    try:
        with open(sig_file) as f:
            key = f.read(64)
    except OSError:
        key = ""
    if len(key) == 64:
        out = os.path.join(images, key[:32] + ext)
        if _hold(out) is not None:
            now = time.time()
            try:
                os.utime(out, (now, now))  # most recently used
                os.utime(sig_file, (now, now))
            except OSError:
                pass
            log(verbose, f"image cache hit {key[:16]} ({os.path.getsize(out) >> 10} KiB, "
                         f"checked in {(time.monotonic() - t0) * 1000:.1f} ms)")
            return out
    os.makedirs(images, exist_ok=True)
    memo = HashMemo(os.path.join(root, "hash"))
    key = tree_key(tree, memo, extra)
    out = os.path.join(images, key[:32] + ext)
    if _hold(out) is not None:
        os.utime(out)
        _write_atomic(sig_file, key)
        log(verbose, f"image cache hit {key[:16]} ({os.path.getsize(out) >> 10} KiB, "
                     f"checked in {(time.monotonic() - t0) * 1000:.1f} ms)")
        return out
    from . import cpio
    t1 = time.monotonic()
    tmp = f"{out}.{os.getpid()}.tmp"
    try:
        if kind == "ext4":
            from . import rootdisk
            rootdisk.pack(tree, tmp)
        else:
            with open(tmp, "wb", buffering=1 << 20) as f:
                cpio.write(f, tree.entries())
        if label:
            _write_atomic(out[:-len(ext)] + ".label", label)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if _hold(out) is None:
        raise OSError(f"image cache: {out} vanished right after packing")
    _write_atomic(sig_file, key)
    PACKS += 1
    log(verbose, f"image cache miss {key[:16]}: packed {len(tree.nodes)} entries, "
                 f"{os.path.getsize(out) >> 10} KiB in {(time.monotonic() - t1) * 1000:.0f} ms")
    evict(root, max_bytes(), keep=out)
    _maybe_sweep(root)
    return out


def entries(root=None):
    """The cached images, most recently used first: (path, bytes, last use, label)."""
    images = os.path.join(root or cache_dir(), "images")
    out = []
    try:
        names = os.listdir(images)
    except OSError:
        return out
    for n in names:
        if not n.endswith((".cpio", ".ext4")):
            continue
        p = os.path.join(images, n)
        try:
            st = os.stat(p)
        except OSError:
            continue
        try:
            with open(p[:-len(".cpio")] + ".label") as f:  # ".cpio" and ".ext4": the same length
                label = f.read(200)
        except OSError:
            label = ""
        out.append((p, st.st_size, st.st_mtime, label))
    out.sort(key=lambda e: e[2], reverse=True)
    return out


def _try_remove(path):
    """Removes an image nobody holds; False when a run holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            os.unlink(path)
        try:
            os.unlink(path[:-len(".cpio")] + ".label")
        except OSError:
            pass
        return True
    except OSError:
        return True
    finally:
        os.close(fd)


def evict(root, cap, keep=None):
    """Removes least recently used images until the rest fit in `cap` bytes
    (None: no cap), skipping `keep` and images in use. Returns (removed,
    bytes freed)."""
    if cap is None:
        return 0, 0
    es = entries(root)
    total = sum(e[1] for e in es)
    removed = freed = 0
    for p, size, _, _ in reversed(es):  # least recently used first
        if total <= cap:
            break
        if p == keep:
            continue
        if _try_remove(p):
            total -= size
            removed += 1
            freed += size
    return removed, freed


def clear(root=None):
    """Removes every image not in use and the memo files; returns (removed, freed)."""
    import shutil
    root = root or cache_dir()
    removed = freed = 0
    for p, size, _, _ in entries(root):
        if _try_remove(p):
            removed += 1
            freed += size
    for sub in ("stat", "hash"):
        shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
    try:
        os.unlink(os.path.join(root, "hashes.json"))  # the memo of before
    except OSError:
        pass
    return removed, freed


def sweep(root=None):
    """Signature files whose image is gone (and the oldest beyond
    MAX_SIGNATURES), content hashes whose host file changed or went."""
    root = root or cache_dir()
    images = os.path.join(root, "images")
    stat_dir = os.path.join(root, "stat")
    sigs = []
    for p in _fanout_files(stat_dir):
        try:
            with open(p) as f:
                key = f.read(64)
            alive = any(os.path.exists(os.path.join(images, key[:32] + e)) for e in (".cpio", ".ext4"))
            mtime = os.stat(p).st_mtime
        except OSError:
            continue
        if alive:
            sigs.append((mtime, p))
        else:
            try:
                os.unlink(p)
            except OSError:
                pass
    sigs.sort(reverse=True)
    for _, p in sigs[MAX_SIGNATURES:]:
        try:
            os.unlink(p)
        except OSError:
            pass
    HashMemo(os.path.join(root, "hash")).sweep()
    try:
        os.unlink(os.path.join(root, "hashes.json"))  # the whole-table memo of before
    except OSError:
        pass


def _maybe_sweep(root):
    stamp = os.path.join(root, "swept")
    try:
        if time.time() - os.stat(stamp).st_mtime < SWEEP_EVERY:
            return
    except OSError:
        pass
    _write_atomic(stamp, "")
    sweep(root)
