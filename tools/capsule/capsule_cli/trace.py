"""`capsule trace [FILE]`: the kernel's tracepoint records that `capsule run
--trace` wrote (docs/trace.md), one line per event in time order as `perf
script` prints them, or a summary. The file is the kernel's own bytes (the
blocks it sent on capsule.trace, linux/trace_dump.cc):

  "CAPTRACE", u32 version (1), u32 record size (48), then chunks, each
  u32 type, u32 length, payload:
    1 INFO     u64 tsc_hz, u64 start_tsc, u32 cpus, u32 groups, i32 status, i32 signal
    2 NAMES    "nr name\\n" lines: the system calls the kernel knows
    3 THREADS  "tid name\\n" lines: the threads alive at the end
    4 CPU      u32 cpu, u32 capacity, u64 written, u64 lost, u64 held
    5 RECORDS  u32 cpu, u32 count, count records of
               u64 tsc, u16 event, u16 cpu, u32 tid, u64 arg[4]
    6 END      (empty) the file is whole

Anything else (a short file, an unknown chunk, a record that does not fit)
is one line on stderr and status 2.
"""
import argparse
import errno
import os
import struct
import sys

MAGIC = b"CAPTRACE"
VERSION = 1
RECORD = struct.Struct("<QHHI4Q")
INFO, NAMES, THREADS, CPU, RECORDS, END = 1, 2, 3, 4, 5, 6
DEFAULT_FILE = "capsule-trace.dat"

# The groups, as --trace=GROUPS names them (core/trace.h Group).
GROUPS = {"sched": 1, "fault": 2, "syscall": 4, "block": 8, "net": 16, "proc": 32}
# Events: id -> (name, group) (core/trace.h Event).
EVENTS = {
    1: ("sched_switch", "sched"),
    2: ("sched_wakeup", "sched"),
    3: ("page_fault", "fault"),
    4: ("syscall_enter", "syscall"),
    5: ("syscall_exit", "syscall"),
    6: ("block_submit", "block"),
    7: ("block_complete", "block"),
    8: ("net_tx", "net"),
    9: ("net_rx", "net"),
    10: ("proc_fork", "proc"),
    11: ("proc_exec", "proc"),
    12: ("proc_exit", "proc"),
}
EVENT_IDS = {name: i for i, (name, _) in EVENTS.items()}

# core/include/core/address_space.h UserFault; core/stats.h fault slots.
FAULT_RESULTS = ["ok", "no mapping", "write to read-only", "exec of NX", "no access", "out of memory", "bus error"]
FAULT_KINDS = {0: "anon", 1: "file", 2: "cow-copy", 3: "cow-reuse", 4: "spurious", 0xfe: "deferred", 0xff: "-"}
SWITCH_STATES = {0: "R", 1: "S", 2: "X"}  # runnable (preempted or yielded), blocked, dead
BLOCK_OPS = {0: "read", 1: "write", 4: "flush", 8: "get-id"}
BLOCK_STATUS = {0: "ok", 1: "ioerr", 2: "unsupp"}


class BadTrace(Exception):
    pass


def parse_groups(text):
    """'sched,fault' or 'all' -> the same text, checked; ValueError names the
    first unknown group."""
    names = text.split(",")
    for n in names:
        if n != "all" and n not in GROUPS:
            raise ValueError(f"unknown event group '{n}' (groups: {', '.join(GROUPS)}, all)")
    return text


class Trace:
    def __init__(self):
        self.tsc_hz = 0
        self.start_tsc = 0
        self.cpus = 0
        self.groups = 0
        self.status = 0
        self.signal = 0
        self.syscalls = {}
        self.threads = {}
        self.rings = {}     # cpu -> dict(capacity, written, lost, held)
        self.records = []   # (tsc, event, cpu, tid, args), time order

    def us(self, tsc):
        return (tsc - self.start_tsc) * 1e6 / self.tsc_hz if self.tsc_hz else 0.0


def _text(payload):
    out = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        key, _, name = line.partition(" ")
        try:
            out[int(key)] = name
        except ValueError:
            raise BadTrace(f"corrupt name table line {line[:40]!r}") from None
    return out


def parse(data):
    """The bytes of a trace file -> Trace; BadTrace says what is wrong."""
    if len(data) < 16:
        raise BadTrace("truncated: no header" if data[:8] == MAGIC[:len(data[:8])] else "not a capsule trace file")
    if data[:8] != MAGIC:
        raise BadTrace("not a capsule trace file (no CAPTRACE header)")
    version, rsize = struct.unpack_from("<II", data, 8)
    if version != VERSION or rsize != RECORD.size:
        raise BadTrace(f"unsupported version {version} (record size {rsize}); this capsule reads version {VERSION}")
    t = Trace()
    pos, ended, have_info, cur = 16, False, False, None
    per_cpu = {}
    while pos < len(data):
        if ended:
            raise BadTrace(f"corrupt: bytes after the end marker at offset {pos}")
        if pos + 8 > len(data):
            raise BadTrace(f"truncated at offset {pos} (a chunk header cut short)")
        ctype, length = struct.unpack_from("<II", data, pos)
        pos += 8
        if pos + length > len(data):
            raise BadTrace(f"truncated at offset {pos - 8} (chunk of {length} bytes, {len(data) - pos} left)")
        payload = data[pos:pos + length]
        pos += length
        if ctype == INFO:
            if length != 32:
                raise BadTrace("corrupt info chunk")
            t.tsc_hz, t.start_tsc, t.cpus, t.groups, t.status, t.signal = struct.unpack("<QQIIii", payload)
            have_info = True
        elif ctype == NAMES:
            t.syscalls = _text(payload)
        elif ctype == THREADS:
            t.threads = _text(payload)
        elif ctype == CPU:
            if length != 32:
                raise BadTrace("corrupt cpu chunk")
            cpu, cap, written, lost, held = struct.unpack("<IIQQQ", payload)
            if cpu in t.rings or (have_info and cpu >= t.cpus) or held > cap or written != lost + held:
                raise BadTrace(f"corrupt cpu chunk for CPU {cpu}")
            t.rings[cpu] = dict(capacity=cap, written=written, lost=lost, held=held)
            per_cpu[cpu] = []
            cur = cpu
        elif ctype == RECORDS:
            if length < 8:
                raise BadTrace("corrupt records chunk")
            cpu, count = struct.unpack_from("<II", payload)
            if cpu != cur or length != 8 + count * RECORD.size:
                raise BadTrace(f"corrupt records chunk (CPU {cpu}, {count} records in {length} bytes)")
            for i in range(count):
                tsc, ev, rcpu, tid, a0, a1, a2, a3 = RECORD.unpack_from(payload, 8 + i * RECORD.size)
                if ev not in EVENTS or rcpu != cpu:
                    raise BadTrace(f"corrupt record {len(per_cpu[cpu])} of CPU {cpu} (event {ev}, cpu {rcpu})")
                per_cpu[cpu].append((tsc, ev, rcpu, tid, (a0, a1, a2, a3)))
        elif ctype == END:
            ended = True
        else:
            raise BadTrace(f"corrupt: unknown chunk type {ctype} at offset {pos - 8 - length}")
    if not have_info:
        raise BadTrace("truncated: no info chunk")
    if not ended:
        raise BadTrace(f"truncated after {len(data)} bytes (no end marker: the VM stopped during the drain?)")
    for cpu, ring in t.rings.items():
        if len(per_cpu[cpu]) != ring["held"]:
            raise BadTrace(f"corrupt: CPU {cpu} says {ring['held']} records, the file has {len(per_cpu[cpu])}")
    # Each CPU's records are in its own order; merge by time (a stable
    # sort keeps a CPU's order among equal stamps).
    t.records = sorted((r for rs in per_cpu.values() for r in rs), key=lambda r: r[0])
    return t


def load(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BadTrace(e.strerror) from None
    if not data:
        raise BadTrace("empty (did the run end before the kernel sent its trace?)")
    try:
        return parse(data)
    except struct.error as e:  # a length the checks above let through
        raise BadTrace(f"corrupt ({e})") from None


# --- lines ------------------------------------------------------------------

def thread_label(t, tid):
    if tid & 0x80000000:
        name = t.threads.get(tid)
        return f"k{tid & 0x7fffffff}" + (f":{name}" if name else "")
    return str(tid)


def _num(v):
    s = v - (1 << 64) if v >= 1 << 63 else v
    return str(s) if -4096 < s < 1 << 20 else hex(v)


def syscall_name(t, nr):
    return t.syscalls.get(nr, f"syscall_{nr}")


def result_text(r):
    s = r - (1 << 64) if r >= 1 << 63 else r
    if -4096 < s < 0:
        name = errno.errorcode.get(-s, f"E{-s}")
        if -s in (512, 513, 514, 516):
            name = {512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 516: "ERESTART_RESTARTBLOCK"}[-s]
        return f"-1 {name}"
    return str(s) if s < 1 << 20 else hex(r)


def fault_error(code):
    # [SDM 4.7] bit 0 present (protection), 1 write, 4 instruction fetch.
    access = "exec" if code & 16 else "write" if code & 2 else "read"
    return f"{access},{'protection' if code & 1 else 'not-present'}"


def describe(t, ev, a):
    if ev == 1:
        return (f"prev={thread_label(t, a[0])} prev_state={SWITCH_STATES.get(a[2], a[2])}"
                f"{' preempted' if a[3] else ''} ==> next={thread_label(t, a[1])}")
    if ev == 2:
        return f"tid={thread_label(t, a[0])} target_cpu={a[1]}"
    if ev == 3:
        res = FAULT_RESULTS[a[2]] if a[2] < len(FAULT_RESULTS) else str(a[2])
        return f"address={a[0]:#x} error={a[1]:#x} ({fault_error(a[1])}) result={res} kind={FAULT_KINDS.get(a[3], a[3])}"
    if ev == 4:
        return f"{syscall_name(t, a[0])}({', '.join(_num(x) for x in a[1:])})"
    if ev == 5:
        return f"{syscall_name(t, a[0])} = {result_text(a[1])}"
    if ev in (6, 7):
        head = f"sector={a[0]} bytes={a[1]} op={BLOCK_OPS.get(a[2], a[2])}"
        return head + (f" req={a[3]:#x}" if ev == 6 else f" status={BLOCK_STATUS.get(a[3], a[3])}")
    if ev in (8, 9):
        return f"len={a[0]}"
    if ev == 10:
        return f"parent={a[0]} child={a[1]} flags={a[2]:#x}"
    if ev == 11:
        return f"pid={a[0]}"
    if ev == 12:
        return f"pid={a[0]} status={a[1] & 0xff}" + (f" signal={a[2]}" if a[2] else "")
    return " ".join(hex(x) for x in a)


def select(t, events=None, tids=None):
    """The records kept by --events (names or groups) and --tid."""
    want = None
    if events:
        want = set()
        for n in events.split(","):
            if n in GROUPS:
                want |= {i for i, (_, g) in EVENTS.items() if g == n}
            elif n in EVENT_IDS:
                want.add(EVENT_IDS[n])
            else:
                raise ValueError(f"--events: unknown event or group '{n}'")
    tid_set = None
    if tids:
        try:
            tid_set = {int(x) for x in tids.split(",")}
        except ValueError:
            raise ValueError(f"--tid: not a list of numbers: '{tids}'") from None
    return [r for r in t.records if (want is None or r[1] in want) and (tid_set is None or r[3] in tid_set)]


def lines(t, records):
    for tsc, ev, cpu, tid, a in records:
        yield f"{t.us(tsc):14.3f} [{cpu:03d}] {thread_label(t, tid):>12} {EVENTS[ev][0]:<15} {describe(t, ev, a)}"


def summary(t, records, path):
    out = []
    lost = sum(r["lost"] for r in t.rings.values())
    span = (t.us(records[-1][0]) - t.us(records[0][0])) if records else 0.0
    groups = ",".join(g for g, bit in GROUPS.items() if t.groups & bit) or "none"
    out.append(f"capsule trace: {path}: {len(records)} records, {len(t.rings)} CPUs, {lost} lost, "
               f"{span / 1000:.3f} ms, groups {groups}, pid 1 "
               + (f"killed by signal {t.signal}" if t.signal else f"exited with {t.status & 0xff}"))
    out.append("")
    out.append("  cpu   capacity    written       held       lost")
    for cpu in sorted(t.rings):
        r = t.rings[cpu]
        out.append(f"  {cpu:3d} {r['capacity']:10d} {r['written']:10d} {r['held']:10d} {r['lost']:10d}")
    counts = {}
    for r in records:
        counts[r[1]] = counts.get(r[1], 0) + 1
    out.append("")
    out.append("     count event")
    for ev, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"{n:10d} {EVENTS[ev][0]}")
    calls, errs = {}, {}
    for r in records:
        if r[1] == 4:
            calls[r[4][0]] = calls.get(r[4][0], 0) + 1
        elif r[1] == 5:
            res = r[4][1] - (1 << 64) if r[4][1] >= 1 << 63 else r[4][1]
            if -4096 < res < 0:
                errs[r[4][0]] = errs.get(r[4][0], 0) + 1
    if calls:
        out.append("")
        out.append("     calls    errors syscall")
        for nr, n in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"{n:10d} {errs.get(nr, 0):9d} {syscall_name(t, nr)}")
    per_tid = {}
    for r in records:
        per_tid[r[3]] = per_tid.get(r[3], 0) + 1
    out.append("")
    out.append("   records thread")
    for tid, n in sorted(per_tid.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"{n:10d} {thread_label(t, tid)}")
    return out


def main(argv=None, prog="capsule trace"):
    p = argparse.ArgumentParser(prog=prog, description="Print the kernel trace `capsule run --trace` recorded.")
    add_arguments(p)
    return run(p.parse_args(argv))


def add_arguments(p):
    p.add_argument("file", nargs="?", default=DEFAULT_FILE, help=f"the trace file (default {DEFAULT_FILE})")
    p.add_argument("--summary", action="store_true",
                   help="counts per event, per system call and per thread, and the records lost")
    p.add_argument("--events", metavar="LIST",
                   help="only these events or groups, comma-separated (sched_switch, syscall, fault...)")
    p.add_argument("--tid", metavar="LIST", help="only these threads (tids, comma-separated)")


def run(a):
    try:
        t = load(a.file)
        records = select(t, a.events, a.tid)
    except BadTrace as e:
        print(f"capsule trace: {a.file}: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"capsule trace: {e}", file=sys.stderr)
        return 2
    try:
        for line in (summary(t, records, a.file) if a.summary else lines(t, records)):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # `capsule trace | head`: the reader went away.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
