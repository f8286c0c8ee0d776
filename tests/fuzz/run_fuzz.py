#!/usr/bin/env python3
"""Runs a libFuzzer target for a bounded time (tests/fuzz/CMakeLists.txt,
docs/fuzzing.md) and passes when it found nothing (no crash, sanitizer
report, failed FUZZ_CHECK, leak or timeout).

  run_fuzz.py --fuzzer build/fuzz/elf_fuzz --corpus tests/fuzz/corpus/elf --seconds 4
  run_fuzz.py --fuzzer build/fuzz/ext4_fuzz --ext4-seed ext4_csum --seconds 30

The seeds are copied to a scratch corpus first (libFuzzer adds what it finds
there; the source tree is left alone), so every seed, the regression inputs
of bugs found before among them, is run before any mutation. A finding
stays in the current directory as TARGET-crash-<sha1> for replay:
FUZZER FILE. --keep DIR keeps the grown corpus."""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile

EXT4_SEEDS = {
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
    # Hard links (names without inodes: -N 64): sub/ spans blocks, so
    # e2fsck -D gives it an htree index for the htree paths.
    for i in range(150):
        os.link(os.path.join(root, "sub", "name_0"), os.path.join(root, "sub", f"link_with_a_longer_name_{i}"))
    os.symlink("a", os.path.join(root, "fast"))
    os.symlink("x" * 80, os.path.join(root, "slow"))
    # Attributes (mke2fs -d copies them): one in the inode, one in a block.
    try:
        os.setxattr(os.path.join(root, "a"), "user.a", b"in the inode")
        os.setxattr(os.path.join(root, "sparse"), "user.a", b"v" * 600)
    except OSError:
        pass


def ext4_seed(work, corpus, seed):
    tree = os.path.join(work, "tree")
    make_tree(tree)
    img = os.path.join(corpus, "seed.img")
    subprocess.run(["mke2fs", "-q", "-F", *EXT4_SEEDS[seed], "-b", "1024", "-N", "64", "-d", tree, img, "256k"],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # Status 1: "file system modified" (the index made).
    subprocess.run(["e2fsck", "-fyD", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fuzzer", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", help="directory of seed inputs")
    src.add_argument("--ext4-seed", choices=sorted(EXT4_SEEDS), help="an ext4 image made by mke2fs")
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--keep", help="copy the grown corpus here at the end")
    p.add_argument("args", nargs="*", help="more libFuzzer flags (after --)")
    a = p.parse_args()
    name = os.path.basename(a.fuzzer).removesuffix("_fuzz")
    work = tempfile.mkdtemp(prefix="capsule-fuzz-")
    try:
        corpus = os.path.join(work, "corpus")
        os.makedirs(corpus)
        if a.ext4_seed:
            ext4_seed(work, corpus, a.ext4_seed)
            flags = ["-max_len=262144", "-timeout=20", "-rss_limit_mb=1024"]
            label = f"{name} {a.ext4_seed}"
        else:
            seeds = sorted(os.listdir(a.corpus))
            if not seeds:
                print(f"FAILED: no seeds in {a.corpus}")
                return 1
            for s in seeds:
                shutil.copy(os.path.join(a.corpus, s), corpus)
            flags = ["-timeout=10", "-rss_limit_mb=1024"]
            label = f"{name} ({len(seeds)} seeds)"
        r = subprocess.run([a.fuzzer, f"-max_total_time={a.seconds}", "-seed=14", *flags,
                            f"-artifact_prefix={os.getcwd()}/{name}-", *a.args, corpus],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        lines = r.stdout.splitlines()
        if r.returncode != 0:
            print("\n".join(lines[-60:]))
            print(f"FAILED: the fuzzer stopped with status {r.returncode}")
            return 1
        if a.keep:
            shutil.copytree(corpus, a.keep, dirs_exist_ok=True)
        runs = [l for l in lines if l.startswith("Done ")]
        print(f"PASS fuzz {label}: {runs[-1] if runs else ''}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
