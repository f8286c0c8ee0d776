#!/usr/bin/env python3
"""Runs an ext4 fuzz target for a bounded time (tests/fuzz/CMakeLists.txt):
makes a seed image with mke2fs in a scratch directory, lets libFuzzer
mutate it for --seconds, and passes when the fuzzer found nothing (no
crash, sanitizer report, leak or timeout). A finding stays in the printed
crash file for replay: FUZZER FILE."""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile

SEEDS = {
    "ext4_csum": ["-t", "ext4", "-O", "^has_journal,^resize_inode"],
    "ext4_nocsum": ["-t", "ext4", "-O", "^has_journal,^metadata_csum,^resize_inode"],
    "ext2": ["-t", "ext2"],
}


def make_tree(root):
    rnd = random.Random(14)
    os.makedirs(os.path.join(root, "sub", "deeper"))
    with open(os.path.join(root, "a"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(root, "sub", "big"), "wb") as f:
        f.write(rnd.randbytes(70000))
    with open(os.path.join(root, "sparse"), "wb") as f:
        f.write(b"x")
        f.seek(100000)
        f.write(b"y")
    with open(os.path.join(root, "frag"), "wb") as f:
        for i in range(8):
            f.seek(i * 8192)
            f.write(rnd.randbytes(1024))
    for i in range(40):
        with open(os.path.join(root, "sub", f"name_{i}"), "w") as f:
            f.write(str(i))
    os.symlink("a", os.path.join(root, "fast"))
    os.symlink("x" * 80, os.path.join(root, "slow"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fuzzer", required=True)
    p.add_argument("--seed", choices=sorted(SEEDS), required=True)
    p.add_argument("--seconds", type=int, default=30)
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="capsule-fuzz-")
    try:
        tree, corpus = os.path.join(work, "tree"), os.path.join(work, "corpus")
        os.makedirs(corpus)
        make_tree(tree)
        img = os.path.join(corpus, "seed.img")
        subprocess.run(["mke2fs", "-q", "-F", *SEEDS[a.seed], "-b", "1024", "-N", "64", "-d", tree, img, "256k"],
                       check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        r = subprocess.run([a.fuzzer, f"-max_total_time={a.seconds}", "-max_len=262144", "-timeout=20",
                            "-rss_limit_mb=1024", "-seed=14", f"-artifact_prefix={os.getcwd()}/ext4-",
                            corpus], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail = "\n".join(r.stdout.splitlines()[-40:])
        if r.returncode != 0:
            print(tail)
            print(f"FAILED: the fuzzer stopped with status {r.returncode}")
            return 1
        runs = [l for l in r.stdout.splitlines() if l.startswith("Done ")]
        print(f"PASS fuzz ext4 {a.seed}: {runs[-1] if runs else ''}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
