"""Building guest images: the program and what it needs, packed as an initrd.

For now: one statically linked program (dynamic programs come with the
loader for PT_INTERP).
"""
import os
import shutil
import struct
import sys

from . import cpio


def find_program(name):
    if os.sep in name:
        path = name
    else:
        path = shutil.which(name)
        if not path:
            sys.exit(f"capsule: program '{name}' not found on $PATH")
    if not os.path.isfile(path):
        sys.exit(f"capsule: '{name}' is not a file")
    return os.path.realpath(path)


def check_elf(path):
    """Exits with one clear message unless `path` is a static x86-64 ELF."""
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF":
            sys.exit(f"capsule: '{path}' is not an ELF program")
        if head[4] != 2 or head[5] != 1:
            sys.exit(f"capsule: '{path}' is not a 64-bit little-endian ELF")
        (e_type, e_machine) = struct.unpack_from("<HH", head, 16)
        if e_machine != 62:
            sys.exit(f"capsule: '{path}' is not an x86-64 program (e_machine {e_machine})")
        if e_type not in (2, 3):
            sys.exit(f"capsule: '{path}' is not an executable (e_type {e_type})")
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        for _ in range(phnum):
            ph = f.read(phentsize)
            if len(ph) < 4:
                break
            if struct.unpack_from("<I", ph, 0)[0] == 3:  # PT_INTERP
                sys.exit(f"capsule: '{path}' is dynamically linked; only static programs run yet")


def parse_add(spec):
    """--add HOST[:GUEST]: GUEST defaults to /basename(HOST)."""
    host, sep, guest = spec.partition(":")
    if not os.path.exists(host):
        sys.exit(f"capsule: --add: '{host}' does not exist")
    if not sep:
        guest = "/" + os.path.basename(os.path.normpath(host))
    if not guest.startswith("/"):
        sys.exit(f"capsule: --add: guest path '{guest}' must be absolute")
    return host, guest


def static_program_initrd(program, workdir, adds=()):
    path = find_program(program)
    check_elf(path)
    guest = "/" + os.path.basename(path)
    out = os.path.join(workdir, "initrd.cpio")
    pairs = [(path, guest)] + [parse_add(a) for a in adds]
    cpio.write_file(out, cpio.map_entries(pairs, mtime=0))
    return out, guest
