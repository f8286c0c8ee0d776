"""capsule cache list | size | prune [--max SIZE] | clear: the image cache
(imagecache.py, docs/cli.md "Image cache")."""
import os
import sys
import time

from . import imagecache


def add_arguments(p):
    sub = p.add_subparsers(dest="cache_command", required=True)
    sub.add_parser("list", help="the cached images, most recently used first")
    sub.add_parser("size", help="bytes the images take, and the cap")
    pr = sub.add_parser("prune", help="remove least recently used images beyond the cap, "
                                      "and memo files of what is gone")
    pr.add_argument("--max", metavar="SIZE", help="the cap for this prune (e.g. 500M; default "
                                                  "$CAPSULE_CACHE_MAX or 2G)")
    sub.add_parser("clear", help="remove every image not in use and the memo files")


def _mib(n):
    return f"{n / (1 << 20):.1f} MiB"


def run(a):
    root = imagecache.cache_dir()
    try:
        cap = imagecache.parse_size(a.max) if getattr(a, "max", None) else imagecache.max_bytes()
    except ValueError as e:
        print(f"capsule: {'--max' if getattr(a, 'max', None) else 'cache'}: {e}", file=sys.stderr)
        return 2
    if a.cache_command == "list":
        for p, size, used, label in imagecache.entries(root):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(used))
            print(f"{os.path.basename(p)[:-len('.cpio')]}  {size:>12}  {when}  {label}")
        return 0
    if a.cache_command == "size":
        es = imagecache.entries(root)
        print(f"{sum(e[1] for e in es)} bytes in {len(es)} images ({_mib(sum(e[1] for e in es))}); "
              f"cap {'none' if cap is None else _mib(cap)}; {root}")
        return 0
    if a.cache_command == "prune":
        removed, freed = imagecache.evict(root, cap)
        imagecache.sweep(root)
        print(f"removed {removed} images, {_mib(freed)}")
        return 0
    removed, freed = imagecache.clear(root)
    print(f"removed {removed} images, {_mib(freed)}")
    return 0
