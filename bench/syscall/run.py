#!/usr/bin/env python3
"""bench/syscall: the cost of kernel services, Capsule against a Linux guest.

One static program, bench/syscall/syscall_bench.c (built here with
`gcc -static -O2 -pthread` into build/bench/syscall/), measures from inside
the guest:
  bare_syscall_ns            syscall(1023): in Capsule (--syscall-probe) SYSCALL
                             into an entry that only jumps back, the least a
                             system call can cost; in Linux its ENOSYS path
  getpid_ns                  syscall(SYS_getpid), the raw syscall path
  least_*_ns                 the least of 100 chunks of 200 calls: bare
                             syscall, getpid, clock_gettime, RDTSC, pipe
                             write+read, file pread/pwrite, epoll_wait,
                             futex wake/wait (steady under host load)
  clock_gettime_ns           clock_gettime(CLOCK_MONOTONIC) (vDSO when there is one)
  mmap_touch_munmap_1mib_us  mmap 1 MiB anonymous, write every page, munmap
  thread_create_join_us      pthread_create + pthread_join of an empty thread
It runs in Capsule (`./capsule run --accel tcg build/bench/syscall/syscall_bench`)
and as /init of the Linux guest bench/boot prepares (Debian's cloud kernel,
ELF vmlinux via PVH), both on microvm, TCG `-cpu max`, the same -m and -smp.
Runs are interleaved (A B A B ...); it reports the median of each figure, the
ratio Capsule / Linux (below 1: Capsule is faster) and the path each figure
took, and writes build/bench/syscall/result.json.

Usage: python3 bench/syscall/run.py [--runs N] [--scale F] [--json FILE]
       (or `./capsule bench syscall ...`, which calls main(argv)).
Python 3 standard library only; host packages come from Debian (apt-get,
only when missing), through bench/boot's own setup.
The harness (building, both guests, runs, report) is bench/side_by_side.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import side_by_side  # noqa: E402


def clock_check(res):
    """A run whose CLOCK_MONOTONIC drifted from the TSC is not trustworthy."""
    skew = res.get("clock_over_tsc")
    if isinstance(skew, float) and not 0.95 <= skew <= 1.05:
        return (f"CLOCK_MONOTONIC ran at {skew:.3f}x the TSC over the run: the "
                "guest's clock is off, its figures are not trustworthy")
    return None


def facts_line(p):
    cs = ""
    if p["clocksource_start"] != ["?"]:
        cs = f", clocksource {'/'.join(p['clocksource_start'])} -> {'/'.join(p['clocksource_end'])}"
    return (f"syscall 1023 {'/'.join(p['syscall_1023'])}, AT_SYSINFO_EHDR {'/'.join(p['at_sysinfo_ehdr'])}, clock_gettime path "
            f"{'/'.join(p['clock_gettime_path'])}, timed with {'/'.join(p['timer'])}{cs}")


SPEC = side_by_side.Spec(
    name="syscall",
    description="ns per getpid / clock_gettime, us per 1 MiB mmap+touch+munmap and per "
                "thread create+join: Capsule against a Linux guest on the same QEMU.",
    source="syscall_bench.c",
    # (key printed by the program, label, unit, higher_is_better)
    figures=[
        ("bare_syscall_ns", "syscall 1023: Capsule bare SYSCALL / Linux ENOSYS", "ns", False),
        ("getpid_ns", "getpid (raw syscall)", "ns", False),
        ("least_bare_syscall_ns", "least: syscall 1023 (bare / ENOSYS)", "ns", False),
        ("least_getpid_ns", "least: getpid", "ns", False),
        ("least_clock_gettime_ns", "least: clock_gettime (vDSO)", "ns", False),
        ("least_rdtsc_ns", "least: one RDTSC", "ns", False),
        ("least_pipe_write_read_ns", "least: pipe write+read, 1 byte", "ns", False),
        ("least_file_pread_ns", "least: pread 1 byte, in-memory file", "ns", False),
        ("least_file_pwrite_ns", "least: pwrite 1 byte, in-memory file", "ns", False),
        ("least_epoll_wait_ready_ns", "least: epoll_wait, 1 ready", "ns", False),
        ("least_futex_wake_none_ns", "least: FUTEX_WAKE, no waiter", "ns", False),
        ("least_futex_wait_eagain_ns", "least: FUTEX_WAIT, EAGAIN", "ns", False),
        ("clock_gettime_ns", "clock_gettime(CLOCK_MONOTONIC)", "ns", False),
        ("mmap_touch_munmap_1mib_us", "1 MiB anon mmap + touch + munmap", "us", False),
        ("thread_create_join_us", "pthread create + join", "us", False),
        ("pingpong_handoff_ns", "condvar ping-pong, per hand-off", "ns", False),
        ("sleep_1ms_overshoot_us", "nanosleep(1 ms) overshoot, median", "us", False),
    ],
    facts=("syscall_1023", "at_sysinfo_ehdr", "clock_gettime_path", "timer", "clocksource_start", "clocksource_end"),
    facts_line=facts_line,
    mem="128M",
    capsule_timeout=120.0,  # about 1 s expected
    linux_timeout=180.0,    # about 3 s expected
    linux_init_args=("--clocksource",),  # Linux's clocksource before and after, as facts
    check=clock_check,
    # Capsule: syscall 1023 is the bare SYSCALL round trip (docs/syscall.md),
    # the reference getpid is measured against in the same run.
    capsule_cmdline="--syscall-probe",
)


def main(argv=None):
    return side_by_side.main(SPEC, argv)


if __name__ == "__main__":
    sys.exit(main())
