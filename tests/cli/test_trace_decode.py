"""`capsule trace` (capsule_cli/trace.py, docs/trace.md) on files built here
byte by byte, as linux/trace_dump.cc lays them out: the lines in time
order across CPUs, the names decoded, the summary's counts, the filters;
and every truncation and a corrupt header, chunk or record give one line
on stderr and status 2, never a traceback."""
import os
import struct
import subprocess
import tempfile
import unittest

import common
from capsule_cli import trace

HZ = 1_000_000_000  # 1 tick = 1 ns: times in µs are ticks / 1000


def chunk(ctype, payload):
    return struct.pack("<II", ctype, len(payload)) + payload


def rec(tsc, ev, cpu, tid, *args):
    args = list(args) + [0] * (4 - len(args))
    return struct.pack("<QHHI4Q", tsc, ev, cpu, tid, *[a & (2 ** 64 - 1) for a in args])


def build(per_cpu, lost=None, start=1000, end=True, status=0):
    """per_cpu: {cpu: [record bytes]}; lost: {cpu: n}."""
    lost = lost or {}
    out = b"CAPTRACE" + struct.pack("<II", 1, 48)
    out += chunk(1, struct.pack("<QQIIii", HZ, start, len(per_cpu), 0x3f, status, 0))
    out += chunk(2, b"39 getpid\n1 write\n2 open\n")
    out += chunk(3, b"%d idle0\n" % (0x80000001))
    for cpu, recs in sorted(per_cpu.items()):
        n = len(recs)
        out += chunk(4, struct.pack("<IIQQQ", cpu, max(n, 4), n + lost.get(cpu, 0), lost.get(cpu, 0), n))
        if recs:
            out += chunk(5, struct.pack("<II", cpu, n) + b"".join(recs))
    if end:
        out += chunk(6, b"")
    return out


SAMPLE = {
    0: [rec(2000, 4, 0, 1, 39), rec(4000, 5, 0, 1, 39, 1), rec(9000, 4, 0, 1, 2, 0x401000, 0),
        rec(9500, 5, 0, 1, 2, -2)],
    1: [rec(3000, 2, 1, 0x80000001, 7, 1), rec(5000, 1, 1, 0x80000001, 0x80000001, 7, 0, 1),
        rec(6000, 3, 1, 7, 0x7f0000001000, 2, 0, 0), rec(7000, 12, 1, 7, 7, 3, 0)],
}


class Decode(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        for f in os.listdir(self.d):
            os.unlink(os.path.join(self.d, f))
        os.rmdir(self.d)

    def cli(self, data, *args):
        path = os.path.join(self.d, "t.dat")
        with open(path, "wb") as f:
            f.write(data)
        return subprocess.run([common.CAPSULE, "trace", path, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=60)

    def test_lines_in_time_order_across_cpus(self):
        r = self.cli(build(SAMPLE))
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 8)
        times = [float(line.split()[0]) for line in lines]
        self.assertEqual(times, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 8.5])
        self.assertEqual([line.split()[1] for line in lines][:3], ["[000]", "[001]", "[000]"])
        self.assertIn("syscall_enter   getpid(0, 0, 0)", lines[0])
        self.assertIn("sched_wakeup    tid=7 target_cpu=1", lines[1])
        self.assertIn("k1:idle0", lines[1])
        self.assertIn("getpid = 1", lines[2])
        self.assertIn("prev=k1:idle0 prev_state=R preempted ==> next=7", lines[3])
        self.assertIn("address=0x7f0000001000 error=0x2 (write,not-present) result=ok kind=anon", lines[4])
        self.assertIn("pid=7 status=3", lines[5])
        self.assertIn("open(0x401000, 0, 0)", lines[6])
        self.assertIn("open = -1 ENOENT", lines[7])

    def test_summary_counts(self):
        r = self.cli(build(SAMPLE, lost={1: 5}), "--summary")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn("8 records, 2 CPUs, 5 lost", out)
        self.assertRegex(out, r"\n\s+1\s+0 getpid\n")
        self.assertRegex(out, r"\n\s+1\s+1 open\n")
        self.assertRegex(out, r"\n\s+2 syscall_enter\n")
        self.assertRegex(out, r"\n\s+1\s+4\s+9\s+4\s+5\n")  # CPU 1: capacity, written, held, lost
        self.assertRegex(out, r"\n\s+4 1\n")  # thread 1: four records

    def test_filters(self):
        r = self.cli(build(SAMPLE), "--events", "syscall_exit,fault")
        self.assertEqual([line.split()[3] for line in r.stdout.splitlines()],
                         ["syscall_exit", "page_fault", "syscall_exit"])
        r = self.cli(build(SAMPLE), "--tid", "7")
        self.assertEqual(len(r.stdout.splitlines()), 2)
        r = self.cli(build(SAMPLE), "--events", "bogus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown event or group 'bogus'", r.stderr)

    def test_every_truncation_is_an_error(self):
        data = build(SAMPLE)
        trace.parse(data)
        for n in range(len(data)):
            with self.assertRaises(trace.BadTrace, msg=f"cut at {n}"):
                trace.parse(data[:n])

    def test_truncated_and_corrupt_files_exit_2_with_one_line(self):
        data = build(SAMPLE)
        bad_record = bytearray(data)
        first = data.index(struct.pack("<II", 5, 8 + 4 * 48))  # CPU 0's records chunk
        struct.pack_into("<H", bad_record, first + 16 + 8, 99)  # its first record's event
        cases = {
            "truncated": data[:len(data) - 30],
            "no end marker": build(SAMPLE, end=False),
            "not a capsule trace file": b"\x7fELF" + b"\0" * 60,
            "unsupported version": b"CAPTRACE" + struct.pack("<II", 9, 48) + data[16:],
            "corrupt record": bytes(bad_record),
            "unknown chunk type": data[:-8] + chunk(77, b"xx") + chunk(6, b""),
            "empty": b"",
        }
        for what, blob in cases.items():
            with self.subTest(what=what):
                r = self.cli(blob)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertNotIn("Traceback", r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertIn("capsule trace:", r.stderr)
                self.assertIn(what.split()[0], r.stderr)

    def test_missing_file(self):
        r = subprocess.run([common.CAPSULE, "trace", os.path.join(self.d, "nope.dat")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("No such file", r.stderr)


if __name__ == "__main__":
    unittest.main()
