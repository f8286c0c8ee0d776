#!/usr/bin/env python3
"""bench/proc: the cost of processes, Capsule against a Linux guest.

One static program, bench/proc/proc_bench.c (built here with
`gcc -static -O2 -pthread` into build/bench/proc/), measures from inside
the guest, in microseconds per operation:
  fork_exit_wait_us        fork, the child exits, waitpid
  fork_16mib_exit_wait_us  the same with 16 MiB of touched memory to share
  vfork_exec_wait_us       vfork + execve of a static program + waitpid
  posix_spawn_wait_us      posix_spawn of a static program + waitpid
  pipe_roundtrip_us        one byte there and back between two processes
  sh_c_true_us             posix_spawn of `/bin/sh -c true` + waitpid
/bin/sh is Debian's static busybox (package busybox-static) in both guests.
Same harness as bench/syscall (bench/side_by_side.py): Capsule's
`./capsule run` and Debian's cloud kernel with the program as /init, on
microvm, TCG -cpu max, the same -m and -smp; interleaved runs; medians and
the ratio Capsule / Linux; build/bench/proc/result.json.

Usage: python3 bench/proc/run.py [--runs N] [--scale F] [--json FILE]
       (or `./capsule bench proc ...`).
"""
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import side_by_side  # noqa: E402

BUSYBOX = "/bin/busybox"


def ensure_busybox():
    if not Path(BUSYBOX).exists():
        side_by_side.log("installing Debian package busybox-static (apt-get)")
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "busybox-static"],
                       check=False)
    if not Path(BUSYBOX).exists() or not shutil.which("busybox"):
        raise SystemExit("bench/proc: /bin/busybox (Debian's busybox-static) is needed for /bin/sh")


SPEC = side_by_side.Spec(
    name="proc",
    description="us per fork+exit+wait, vfork+exec+wait, posix_spawn, pipe round trip "
                "between processes and sh -c true: Capsule against a Linux guest on the same QEMU.",
    source="proc_bench.c",
    figures=[
        ("fork_exit_wait_us", "fork + exit + wait", "us", False),
        ("fork_16mib_exit_wait_us", "fork + exit + wait, 16 MiB touched", "us", False),
        ("vfork_exec_wait_us", "vfork + exec (static) + wait", "us", False),
        ("posix_spawn_wait_us", "posix_spawn (static) + wait", "us", False),
        ("pipe_roundtrip_us", "pipe round trip between processes", "us", False),
        ("sh_c_true_us", "sh -c true (busybox) + wait", "us", False),
    ],
    facts=("timer",),
    facts_line=lambda p: f"timed with {'/'.join(p['timer'])}",
    mem="128M",
    capsule_timeout=180.0,
    linux_timeout=240.0,
    extra_files=(("/bin/sh", BUSYBOX),),
)


def main(argv=None):
    ensure_busybox()
    return side_by_side.main(SPEC, argv)


if __name__ == "__main__":
    sys.exit(main())
