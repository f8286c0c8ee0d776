#!/usr/bin/env python3
"""guest.cli.blkdiscard: Debian's util-linux in the VM on a raw writable
disk (docs/block.md "Device nodes"): blockdev --getsize64 and --getss
give the disk's size and sector size, blkdiscard discards 2 MiB (the
BLKDISCARD ioctl), blkdiscard -z zero-fills 64 KiB (BLKZEROOUT) and
fallocate -p punches 128 KiB (write-zeroes with unmap); then
the host reads the image: zeros there, the pattern everywhere else, and
at least 2 MiB fewer allocated (QEMU's discard=unmap punched the hole).
Exit 77 (skip) when the host lacks blkdiscard, blockdev, fallocate or dash.

    blkdiscard_test.py
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import CAPSULE  # noqa: E402

TIMEOUT = 240
SECTORS = 16384  # 8 MiB
MIB = 1 << 20
SCRIPT = ("blockdev --getsize64 /dev/vda; blockdev --getss /dev/vda; "
          "blkdiscard -v -o 1048576 -l 2097152 /dev/vda; "
          "blkdiscard -z -v -o 4194304 -l 65536 /dev/vda && "
          "fallocate -p -o 6291456 -l 131072 /dev/vda; echo done $?")


def libraries(path):
    """The shared libraries `path` loads (ldd), for --add: --add copies a
    file only, not what it needs."""
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, text=True).stdout
    return [m.group(1) for m in re.finditer(r"=> (/\S+)", out)]


def main():
    tools = {t: shutil.which(t) or shutil.which(t, path="/usr/sbin:/sbin") for t in ("blkdiscard", "blockdev", "fallocate")}
    dash = shutil.which("dash")
    if not all(tools.values()) or not dash:
        print("SKIP: the host lacks blkdiscard, blockdev, fallocate or dash")
        return 77
    work = tempfile.mkdtemp(prefix="capsule-blkdiscard-")
    try:
        img = os.path.join(work, "disk.img")
        with open(img, "wb") as f:
            for i in range(SECTORS):
                f.write((b"sector %08d\n" % i).ljust(512, b"\0"))
        before = os.stat(img).st_blocks
        cmd = [CAPSULE, "run", "--env", "PATH=/usr/sbin:/usr/bin:/bin", "--disk", img]
        libs = set()
        for t, p in tools.items():
            cmd += ["--add", f"{os.path.realpath(p)}:/usr/sbin/{t}"]
            libs.update(libraries(p))
        for lib in sorted(libs):
            cmd += ["--add", f"{os.path.realpath(lib)}:{lib}"]
        cmd += [dash, "-c", SCRIPT]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        print("$", " ".join(cmd), f"-> {r.returncode}")
        sys.stdout.write(r.stdout)
        sys.stdout.write("stderr: " + r.stderr)
        want = [r"^8388608$", r"^512$", r"Discarded 2097152 bytes from the offset 1048576",
                r"Zero-filled 65536 bytes from the offset 4194304", r"^done 0$"]
        for w in want:
            if not re.search(w, r.stdout, re.M):
                print(f"FAIL: expected /{w}/ in the output")
                return 1
        with open(img, "rb") as f:
            data = f.read()
        for i in range(SECTORS):
            start = i * 512
            zero = MIB <= start < 3 * MIB or 4 * MIB <= start < 4 * MIB + 65536 or 6 * MIB <= start < 6 * MIB + 131072
            want_bytes = bytes(512) if zero else (b"sector %08d\n" % i).ljust(512, b"\0")
            if data[start:start + 512] != want_bytes:
                print(f"FAIL: sector {i} is {data[start:start + 24]!r}")
                return 1
        after = os.stat(img).st_blocks
        if after > before - 4096:
            print(f"FAIL: the image holds {after} blocks of 512 bytes, {before} before: no hole")
            return 1
        print(f"PASS blkdiscard: zeros where asked, the rest intact, {before} -> {after} blocks")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
