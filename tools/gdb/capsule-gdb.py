# gdb support for Capsule VMs started with `capsule run --gdb` (docs/gdb.md).
#
#   gdb -q -x tools/gdb/capsule-gdb.py -ex 'capsule-connect /tmp/capsule-run-XXXX/gdb.json'
#
# capsule-connect reads the file the CLI wrote (the stub's address, the
# kernel ELF it booted, guest path -> host file for the image), loads the
# kernel's symbols, connects, and follows the program:
#   - a breakpoint on the kernel's capsule_exec_loaded (called after every
#     exec, the image mapped) reads capsule_exec_record and loads the
#     program's symbols at its load bias and its loader's (ld.so) at its base;
#   - a breakpoint on ld.so's _dl_debug_state (what glibc calls after each
#     change to its list of objects; pending until the loader's symbols come)
#     walks _r_debug's link_map and loads each library's symbols at its l_addr.
# Both breakpoints are internal and never stop: `break main`, set before the
# program is loaded, is pending and resolves when its symbols come.
# `capsule-libs` walks the link_map again by hand; `capsule-info` says what
# is loaded.
import json
import os
import struct

import gdb
from gdb.FrameDecorator import FrameDecorator

RECORD_VERSION = 1  # core/include/core/debugger.h
RECORD_SIZE = 40 + 256
MAX_SYMLINKS = 40
MAX_LIBRARIES = 1024  # a bound on the link_map walk (a corrupt list is not followed forever)

PT_INTERP = 3
SHT_DYNSYM = 11
SHT_SYMTAB = 2


# --- host ELF files: the loader's path and a symbol's value ----------------

def elf_interp(path):
    """The PT_INTERP string of a host ELF file, or None."""
    with open(path, "rb") as f:
        eh = f.read(64)
        if eh[:4] != b"\x7fELF" or eh[4] != 2:
            return None
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        for i in range(phnum):
            p_type, = struct.unpack_from("<I", table, i * phentsize)
            if p_type == PT_INTERP:
                off, = struct.unpack_from("<Q", table, i * phentsize + 8)
                size, = struct.unpack_from("<Q", table, i * phentsize + 32)
                f.seek(off)
                return f.read(size).split(b"\0", 1)[0].decode(errors="replace")
    return None


def elf_symbol(path, name):
    """The st_value of a symbol in a host ELF file's .dynsym (or .symtab),
    or None: ld.so's _r_debug and _dl_debug_state are in its .dynsym."""
    want = name.encode()
    with open(path, "rb") as f:
        eh = f.read(64)
        if eh[:4] != b"\x7fELF" or eh[4] != 2:
            return None
        shoff, = struct.unpack_from("<Q", eh, 40)
        shentsize, shnum = struct.unpack_from("<HH", eh, 58)
        f.seek(shoff)
        sections = f.read(shentsize * shnum)
        headers = [struct.unpack_from("<IIQQQQIIQQ", sections, i * shentsize) for i in range(shnum)]
        for kind in (SHT_DYNSYM, SHT_SYMTAB):
            for (_, sh_type, _, _, off, size, link, _, _, entsize) in headers:
                if sh_type != kind or not entsize or link >= shnum:
                    continue
                stroff, strsize = headers[link][4], headers[link][5]
                f.seek(stroff)
                strings = f.read(strsize)
                f.seek(off)
                table = f.read(size)
                for i in range(size // entsize):
                    st_name, _, _, _, st_value, _ = struct.unpack_from("<IBBHQQ", table, i * entsize)
                    end = strings.find(b"\0", st_name)
                    if strings[st_name:end] == want and st_value:
                        return st_value
    return None


# --- the guest's paths ----------------------------------------------------------

class ImageMap:
    """Guest path -> host file, from the CLI's JSON (files and symlinks of
    the image). A path the image does not have falls back to the same path
    on the host (an image built elsewhere: `capsule run --image DIR`)."""

    def __init__(self, files, links):
        self.files = files
        self.links = links

    def real_path(self, path):
        queue = [p for p in path.split("/") if p]
        cur = "/"
        hops = 0
        while queue:
            comp = queue.pop(0)
            if comp == ".":
                continue
            if comp == "..":
                cur = os.path.dirname(cur)
                continue
            nxt = os.path.join(cur, comp)
            target = self.links.get(nxt)
            if target is None:
                cur = nxt
                continue
            hops += 1
            if hops > MAX_SYMLINKS:
                return None
            if target.startswith("/"):
                cur = "/"
            queue = [p for p in target.split("/") if p] + queue
        return cur

    def host_file(self, guest):
        real = self.real_path(guest)
        if real and real in self.files:
            return self.files[real]
        if guest in self.files:
            return self.files[guest]
        if not self.files and os.path.isfile(guest):
            return guest
        if real and os.path.isfile(real) and not self.files:
            return real
        return None


# --- the session --------------------------------------------------------------

def read_u64(addr):
    return struct.unpack("<Q", bytes(gdb.selected_inferior().read_memory(addr, 8)))[0]


def read_cstring(addr, limit=4096):
    out = b""
    while len(out) < limit:
        chunk = bytes(gdb.selected_inferior().read_memory(addr + len(out), 64))
        end = chunk.find(b"\0")
        if end >= 0:
            return (out + chunk[:end]).decode(errors="replace")
        out += chunk
    return out.decode(errors="replace")


def say(msg):
    gdb.write(f"capsule: {msg}\n")


class Session:
    def __init__(self, config):
        self.config = config
        self.map = ImageMap(config.get("files", {}), config.get("links", {}))
        self.generation = 0
        self.record = None
        self.loaded = {}   # host path -> load address (gdb's -o offset)
        self.program = None
        self.interp = None
        self.interp_base = 0
        self.r_debug = None

    # symbol files ---------------------------------------------------------------
    def add(self, host, offset, why):
        if self.loaded.get(host) == offset:
            return
        if host in self.loaded:
            self.remove(host)
        try:
            gdb.execute(f"add-symbol-file {quote(host)} -o {offset:#x}", to_string=True)
        except gdb.error as e:
            say(f"cannot load the symbols of {host}: {e}")
            return
        self.loaded[host] = offset
        say(f"{why} {host} at {offset:#x}")

    def remove(self, host):
        try:
            gdb.execute(f"remove-symbol-file {quote(host)}", to_string=True)
        except gdb.error:
            pass
        self.loaded.pop(host, None)

    def forget_image(self):
        for host in list(self.loaded):
            self.remove(host)
        self.program = self.interp = self.r_debug = None
        self.interp_base = 0

    # the kernel's record ---------------------------------------------------------
    def record_address(self):
        try:
            return int(gdb.parse_and_eval("(unsigned long)&capsule_exec_record"))
        except gdb.error:
            return None

    def read_record(self):
        addr = self.record_address()
        if addr is None:
            return None
        try:
            raw = bytes(gdb.selected_inferior().read_memory(addr, RECORD_SIZE))
        except gdb.MemoryError:
            return None  # paused before the kernel maps itself where it is linked
        version, generation, pid, path_len, bias, interp_base, entry = struct.unpack_from("<IIiIQQQ", raw, 0)
        if version != RECORD_VERSION:
            return None
        path = raw[40:40 + min(path_len, 255)].decode(errors="replace")
        return dict(generation=generation, pid=pid, bias=bias, interp_base=interp_base, entry=entry, path=path)

    def on_exec(self):
        """The kernel loaded an image (or we attach to a VM that has one):
        this program's symbols replace the previous program's."""
        rec = self.read_record()
        if rec is None or rec["generation"] == self.generation:
            return
        self.generation = rec["generation"]
        self.record = rec
        self.forget_image()
        host = self.map.host_file(rec["path"])
        if host is None:
            say(f"pid {rec['pid']} runs {rec['path']}: no host file for it in the image map; no program symbols")
            return
        self.program = host
        self.add(host, rec["bias"], f"pid {rec['pid']} exec {rec['path']}:")
        interp = elf_interp(host)
        if interp and rec["interp_base"]:
            ihost = self.map.host_file(interp)
            if ihost is None:
                say(f"no host file for the loader {interp}")
                return
            self.interp = ihost
            self.interp_base = rec["interp_base"]
            self.add(ihost, rec["interp_base"], "loader")
            r_debug = elf_symbol(ihost, "_r_debug")
            self.r_debug = rec["interp_base"] + r_debug if r_debug else None

    # the loader's list of objects -----------------------------------------------
    def walk_libraries(self):
        if not self.r_debug:
            return
        try:
            lm = read_u64(self.r_debug + 8)  # r_debug.r_map
        except gdb.MemoryError:
            return
        seen = 0
        while lm and seen < MAX_LIBRARIES:
            seen += 1
            try:
                l_addr = read_u64(lm)
                name_ptr = read_u64(lm + 8)
                nxt = read_u64(lm + 24)
                name = read_cstring(name_ptr) if name_ptr else ""
            except gdb.MemoryError:
                return
            lm = nxt
            if not name:
                continue  # the program itself
            host = self.map.host_file(name)
            if host is None or host in (self.program, self.interp):
                continue  # the vDSO (no file), the loader (loaded already)
            self.add(host, l_addr, "library")


def quote(path):
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ExecBreakpoint(gdb.Breakpoint):
    def __init__(self, session):
        super().__init__("capsule_exec_loaded", internal=True)
        self.session = session

    def stop(self):
        self.session.on_exec()
        return False


class LibraryBreakpoint(gdb.Breakpoint):
    """Pending until the loader's symbols come (the breakpoint follows them
    to each new base); a static program's own _dl_debug_state finds no
    _r_debug of a loader and does nothing."""

    def __init__(self, session):
        super().__init__("_dl_debug_state", internal=True)
        self.session = session

    def stop(self):
        self.session.walk_libraries()
        return False


class SyscallEntryFrame(FrameDecorator):
    """syscall_entry's CFI marks it a signal frame (the stack switches from
    the kernel's to the program's there); gdb would print it as "<signal
    handler called>": it is the system call's entry."""

    def function(self):
        return "syscall_entry"


class SyscallEntryFilter:
    def __init__(self):
        self.name = "capsule-syscall-entry"
        self.priority = 100
        self.enabled = True
        gdb.frame_filters[self.name] = self

    def filter(self, frames):
        return (SyscallEntryFrame(f) if is_syscall_entry(f.inferior_frame()) else f for f in frames)


def is_syscall_entry(frame):
    if frame.type() != gdb.SIGTRAMP_FRAME:
        return False
    try:
        return frame.name() == "syscall_entry" or gdb.block_for_pc(frame.pc()).function.name == "syscall_entry"
    except (AttributeError, RuntimeError, gdb.error):
        return False


SESSION = None


class Connect(gdb.Command):
    """capsule-connect FILE: attach to the VM `capsule run --gdb` started,
    with the kernel's and the program's symbols (FILE: the JSON the CLI
    named)."""

    def __init__(self):
        super().__init__("capsule-connect", gdb.COMMAND_RUNNING)

    def invoke(self, arg, from_tty):
        global SESSION
        args = gdb.string_to_argv(arg)
        if len(args) != 1:
            raise gdb.GdbError("usage: capsule-connect FILE (the file `capsule run --gdb` printed)")
        try:
            with open(args[0]) as f:
                config = json.load(f)
        except (OSError, ValueError) as e:
            raise gdb.GdbError(f"capsule-connect: {args[0]}: {e}")
        gdb.execute("set pagination off")
        gdb.execute("set breakpoint pending on")
        # main's callers (glibc's __libc_start_call_main...) in `bt`, and
        # `finish` out of main, the whole chain down to _start.
        gdb.execute("set backtrace past-main on")
        gdb.execute(f"file {quote(config['kernel'])}", to_string=True)
        gdb.execute(f"target remote {config['remote']}")
        SESSION = Session(config)
        ExecBreakpoint(SESSION)
        LibraryBreakpoint(SESSION)
        SESSION.on_exec()       # attached to a VM that runs a program already
        SESSION.walk_libraries()


class Libs(gdb.Command):
    """capsule-libs: walk the program's link_map again and load the
    symbols of every library it lists."""

    def __init__(self):
        super().__init__("capsule-libs", gdb.COMMAND_FILES)

    def invoke(self, arg, from_tty):
        if SESSION is None:
            raise gdb.GdbError("capsule-libs: not connected (capsule-connect FILE)")
        SESSION.on_exec()
        SESSION.walk_libraries()


class Info(gdb.Command):
    """capsule-info: the last exec the kernel recorded and the symbol files
    loaded for it."""

    def __init__(self):
        super().__init__("capsule-info", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        if SESSION is None:
            raise gdb.GdbError("capsule-info: not connected (capsule-connect FILE)")
        rec = SESSION.record
        if rec is None:
            say("no program loaded yet")
            return
        say(f"exec #{rec['generation']}: pid {rec['pid']} {rec['path']} bias {rec['bias']:#x} "
            f"loader base {rec['interp_base']:#x} entry {rec['entry']:#x}")
        for host, offset in SESSION.loaded.items():
            say(f"  {offset:#018x} {host}")


Connect()
Libs()
Info()
SyscallEntryFilter()
