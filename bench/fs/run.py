#!/usr/bin/env python3
"""bench/fs: files, sequential I/O, pipes and epoll, Capsule against a Linux guest.

One static program, bench/fs/fs_bench.c (built here with
`gcc -static -O2 -pthread` into build/bench/fs/), measures from inside the
guest:
  files_ops_s      files/s through create + stat + unlink, 2000 files in one dir
  seq_write_mb_s   a 32 MiB file written in 64 KiB writes (tmpfs / ramfs)
  seq_read_mb_s    ... and read back in 64 KiB reads
  pipe_mb_s        64 MiB through a pipe between two threads, 64 KiB writes
  pipe_rtt_us      1-byte ping-pong between two threads over two pipes
  epoll_wait_us    1000 pipes in one epoll, one made ready per iteration:
                   write + epoll_wait + read
It runs in Capsule (`./capsule run --accel tcg build/bench/fs/fs_bench`) and
as /init of the Linux guest bench/boot prepares (Debian's cloud kernel, ELF
vmlinux via PVH, a tmpfs mounted on /bench by the program), both on microvm,
TCG `-cpu max`, the same -m and -smp. Runs are interleaved (A B A B ...); it
reports the median of each figure and Capsule's speed relative to Linux
(above 1: Capsule is faster, whichever way the figure's unit goes), and
writes build/bench/fs/result.json.

Usage: python3 bench/fs/run.py [--runs N] [--scale F] [--json FILE]
       (or `./capsule bench fs ...`, which calls main(argv)).
Python 3 standard library only; host packages come from Debian (apt-get,
only when missing), through bench/boot's own setup.
The harness (building, both guests, runs, report) is bench/side_by_side.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import side_by_side  # noqa: E402


def facts_line(p):
    return (f"file system {' / '.join(p['fs'])}, timer {'/'.join(p['timer'])}, "
            f"RLIMIT_NOFILE {'/'.join(p['nofile'])}")


SPEC = side_by_side.Spec(
    name="fs",
    description="File create/stat/unlink, sequential tmpfs I/O, pipe throughput and latency, "
                "epoll_wait with 1000 fds: Capsule against a Linux guest on the same QEMU.",
    source="fs_bench.c",
    # (key printed by the program, label, unit, higher_is_better)
    figures=[
        ("files_ops_s", "create+stat+unlink, 2000 files in one dir", "files/s", True),
        ("create_us", "  of which create (open O_CREAT, close)", "us", False),
        ("stat_us", "  of which stat", "us", False),
        ("unlink_us", "  of which unlink", "us", False),
        ("seq_write_mb_s", "32 MiB file, 64 KiB write()s", "MiB/s", True),
        ("seq_read_mb_s", "32 MiB file, 64 KiB read()s", "MiB/s", True),
        ("pipe_mb_s", "pipe between two threads, 64 KiB writes", "MiB/s", True),
        ("pipe_rtt_us", "pipe ping-pong round trip, 1 byte", "us", False),
        ("epoll_wait_us", "epoll_wait, 1000 fds, 1 ready (+write+read)", "us", False),
    ],
    facts=("fs", "timer", "nofile"),
    facts_line=facts_line,
    mem="256M",  # a 32 MiB file in a tmpfs next to Linux's own ~70 MiB
    capsule_timeout=180.0,
    linux_timeout=240.0,
)


def main(argv=None):
    return side_by_side.main(SPEC, argv)


if __name__ == "__main__":
    sys.exit(main())
