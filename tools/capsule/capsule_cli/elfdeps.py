"""ELF inspection and shared-library resolution the way glibc's ld.so does it.

Pure Python, no subprocess: reads the ELF header, PT_INTERP and the dynamic
section (DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME), and resolves each
needed name in ld.so's order (docs/cli.md):

  1. DT_RPATH of the object that needs it, then of the object that loaded
     that one, up to the program — only when the needing object has no
     DT_RUNPATH (an object's own DT_RUNPATH also voids its DT_RPATH);
  2. LD_LIBRARY_PATH: NOT used (the guest does not see the host's);
  3. DT_RUNPATH of the needing object only;
  4. /etc/ld.so.cache (the soname's entry for x86-64);
  5. the default directories (DEFAULT_DIRS).

$ORIGIN (the needing object's directory), $LIB and $PLATFORM expand as
glibc expands them on Debian x86-64. Names with a '/' are paths. A candidate
that is not an x86-64 ELF64 is skipped, as ld.so skips it. Objects are
loaded breadth-first and a name already loaded (by name or DT_SONAME) is not
searched again.
"""
import os
import struct

PT_INTERP, PT_DYNAMIC, PT_LOAD = 3, 2, 1
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
EM_X86_64 = 62
ET_EXEC, ET_DYN = 2, 3

DEFAULT_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib", "/usr/lib")
LD_SO_CACHE = "/etc/ld.so.cache"
DEFAULT_INTERP = "/lib64/ld-linux-x86-64.so.2"
CACHE_MAGIC_NEW = b"glibc-ld.so.cache1.1"
CACHE_FLAGS_X8664 = 0x0303  # FLAG_ELF_LIBC6 | FLAG_X8664_LIB64


class ElfError(Exception):
    """Not a usable ELF: the message says why, naming the file."""


class ElfInfo:
    def __init__(self, path):
        self.path = path
        self.elf_class = 0      # 1: 32-bit, 2: 64-bit
        self.machine = 0
        self.type = 0
        self.interp = None      # PT_INTERP path or None (static)
        self.needed = []
        self.rpath = []         # raw DT_RPATH entries (':'-split, unexpanded)
        self.runpath = []
        self.soname = None
        self.has_runpath = False

    @property
    def is_x86_64(self):
        return self.elf_class == 2 and self.machine == EM_X86_64

    @property
    def dynamic(self):
        return self.interp is not None


def read_elf(path):
    """Parses `path`; raises ElfError (not an ELF, truncated, unsupported)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ElfError(f"'{path}': {e.strerror}")
    info = ElfInfo(path)
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise ElfError(f"'{path}' is not an ELF program")
    info.elf_class = data[4]
    if data[5] != 1:
        raise ElfError(f"'{path}' is not a little-endian ELF")
    info.type, info.machine = struct.unpack_from("<HH", data, 16)
    if info.elf_class != 2:
        return info  # 32-bit: callers reject it by is_x86_64
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    loads, dyn = [], None
    for i in range(phnum):
        off = phoff + i * phentsize
        if phentsize < 56 or off + 56 > len(data):
            raise ElfError(f"'{path}': truncated program headers")
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz = struct.unpack_from("<IIQQQQQ", data, off)
        if p_type == PT_INTERP:
            raw = data[p_offset:p_offset + p_filesz]
            info.interp = raw.split(b"\0", 1)[0].decode(errors="replace")
        elif p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_DYNAMIC:
            dyn = (p_offset, p_filesz)
    if dyn is None:
        return info
    entries = []
    for off in range(dyn[0], min(dyn[0] + dyn[1], len(data) - 15), 16):
        tag, val = struct.unpack_from("<qQ", data, off)
        if tag == DT_NULL:
            break
        entries.append((tag, val))
    strtab = next((v for t, v in entries if t == DT_STRTAB), None)
    if strtab is None:
        return info
    stroff = None
    for vaddr, offset, filesz in loads:
        if vaddr <= strtab < vaddr + filesz:
            stroff = strtab - vaddr + offset
    if stroff is None:
        raise ElfError(f"'{path}': dynamic string table outside the file")

    def string(v):
        end = data.find(b"\0", stroff + v)
        if end < 0:
            raise ElfError(f"'{path}': bad dynamic string")
        return data[stroff + v:end].decode(errors="surrogateescape")

    for tag, val in entries:
        if tag == DT_NEEDED:
            info.needed.append(string(val))
        elif tag == DT_SONAME:
            info.soname = string(val)
        elif tag == DT_RPATH:
            info.rpath += [d for d in string(val).split(":") if d]
        elif tag == DT_RUNPATH:
            info.has_runpath = True
            info.runpath += [d for d in string(val).split(":") if d]
    return info


def check_program(path):
    """Returns the ElfInfo of an x86-64 executable; raises ElfError with the
    one-line reason otherwise."""
    info = read_elf(path)
    if info.elf_class != 2:
        raise ElfError(f"'{path}' is a 32-bit program; Capsule runs x86-64 programs")
    if info.machine != EM_X86_64:
        raise ElfError(f"'{path}' is not an x86-64 program (e_machine {info.machine})")
    if info.type not in (ET_EXEC, ET_DYN):
        raise ElfError(f"'{path}' is not an executable (e_type {info.type})")
    return info


def parse_ld_so_cache(data):
    """{soname: [paths]} of the x86-64 entries of an ld.so.cache image
    (the "glibc-ld.so.cache1.1" format, alone or after the old one)."""
    start = data.find(CACHE_MAGIC_NEW)
    if start < 0:
        raise ValueError("no glibc-ld.so.cache1.1 header")
    nlibs, = struct.unpack_from("<I", data, start + 20)
    out = {}
    base = start + 48
    for i in range(nlibs):
        flags, key, value = struct.unpack_from("<iII", data, base + 24 * i)
        if flags & 0xFFFF != CACHE_FLAGS_X8664:
            continue

        def s(off):
            end = data.index(b"\0", start + off)
            return data[start + off:end].decode(errors="surrogateescape")
        out.setdefault(s(key), []).append(s(value))
    return out


_cache = None


def ld_so_cache(path=LD_SO_CACHE):
    global _cache
    if _cache is None or path != LD_SO_CACHE:
        try:
            with open(path, "rb") as f:
                c = parse_ld_so_cache(f.read())
        except (OSError, ValueError, struct.error):
            c = {}
        if path != LD_SO_CACHE:
            return c
        _cache = c
    return _cache


def expand(d, origin):
    for k, v in (("ORIGIN", origin), ("LIB", "lib/x86_64-linux-gnu"), ("PLATFORM", "x86_64")):
        d = d.replace("${" + k + "}", v).replace("$" + k, v)
    return d


class MissingLibrary(Exception):
    def __init__(self, name, needed_by):
        super().__init__(f"shared library '{name}' (needed by '{needed_by}') not found")
        self.name, self.needed_by = name, needed_by


class Resolution:
    """The program's loader and libraries: `libs` maps each needed name to the
    host path it resolved to, in load order."""

    def __init__(self, program, interp, libs):
        self.program, self.interp, self.libs = program, interp, libs

    def paths(self):
        out = [self.program]
        if self.interp:
            out.append(self.interp)
        out += [p for p in self.libs.values() if p not in out]
        return out


def _usable(path):
    try:
        return os.path.isfile(path) and read_elf(path).is_x86_64
    except ElfError:
        return False


def find_library(name, obj, loaders, cache, default_dirs=DEFAULT_DIRS):
    """Host path for `name` needed by `obj` (ElfInfo) whose loader chain is
    `loaders` (ElfInfo list, nearest first), or None."""
    if "/" in name:
        p = expand(name, os.path.dirname(obj.path))
        return p if _usable(p) else None
    dirs = []
    if not obj.has_runpath:
        for o in [obj] + loaders:
            if not o.has_runpath:
                dirs += [expand(d, os.path.dirname(o.path)) for d in o.rpath]
    for d in dirs:
        p = os.path.join(d, name)
        if _usable(p):
            return p
    for d in obj.runpath:
        p = os.path.join(expand(d, os.path.dirname(obj.path)), name)
        if _usable(p):
            return p
    for p in cache.get(name, []):
        if _usable(p):
            return p
    for d in default_dirs:
        p = os.path.join(d, name)
        if _usable(p):
            return p
    return None


def resolve(program, cache=None, default_dirs=DEFAULT_DIRS):
    """Resolves everything `program` (a host path) loads; raises ElfError or
    MissingLibrary."""
    cache = ld_so_cache() if cache is None else cache
    main = check_program(program)
    libs = {}
    if not main.dynamic and not main.needed:
        return Resolution(program, None, libs)
    # A shared object (no PT_INTERP) is resolved as the program's loader
    # would load it.
    interp = main.interp or DEFAULT_INTERP
    if not _usable(interp):
        raise MissingLibrary(interp, program)
    loaded = {}  # name or soname -> path
    interp_info = read_elf(interp)
    for n in (os.path.basename(interp), interp_info.soname):
        if n:
            loaded[n] = interp
    queue = [(main, [])]
    while queue:
        obj, loaders = queue.pop(0)
        for name in obj.needed:
            if name in loaded:
                libs.setdefault(name, loaded[name])
                continue
            path = find_library(name, obj, loaders, cache, default_dirs)
            if path is None:
                raise MissingLibrary(name, obj.path)
            info = read_elf(path)
            loaded[name] = path
            if info.soname:
                loaded.setdefault(info.soname, path)
            libs[name] = path
            queue.append((info, [obj] + loaders))
    return Resolution(program, interp, libs)
