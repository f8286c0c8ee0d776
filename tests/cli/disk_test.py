"""capsule disk create and capsule run --disk with Debian's programs
(docs/cli.md, docs/block.md): an image made from a host tree with
`capsule disk create --from`, then sha256sum and find in the VM over the
mounted image against the same commands over the host's tree.

    disk_test.py MACHINE
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 300


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       timeout=TIMEOUT, text=True)
    print("$", " ".join(cmd), f"-> {r.returncode}")
    return r


def fail(msg, r=None):
    print(f"FAILED: {msg}")
    if r is not None:
        print("--- stdout ---\n" + r.stdout[-3000:] + "\n--- stderr ---\n" + r.stderr[-3000:])
    return 1


def main():
    machine = sys.argv[1] if len(sys.argv) > 1 else "microvm"
    work = tempfile.mkdtemp(prefix="capsule-cli-disk-")
    try:
        rnd = random.Random(14)
        tree = os.path.join(work, "tree")
        os.makedirs(os.path.join(tree, "sub", "deeper"))
        files = {"a.txt": b"hello disk\n", "sub/big.bin": rnd.randbytes(1500000),
                 "sub/deeper/c": b"", "sub/odd": rnd.randbytes(5000)}
        for rel, data in files.items():
            with open(os.path.join(tree, rel), "wb") as f:
                f.write(data)
        os.chmod(os.path.join(tree, "sub/odd"), 0o600)
        os.symlink("sub/big.bin", os.path.join(tree, "link"))
        img = os.path.join(work, "disk.img")
        r = run([CAPSULE, "disk", "create", "--size", "32M", "--from", tree, img])
        if r.returncode != 0 or not os.path.exists(img):
            return fail("disk create failed", r)
        r = run([CAPSULE, "disk", "create", "--size", "32M", img])
        if r.returncode != 2 or "exists" not in r.stderr:
            return fail("disk create over an existing file must be refused", r)
        paths = sorted(files)
        common = ["run", "--machine", machine, "--net", "none", "--disk", img + ":/data:ro"]
        # sha256sum: the same sums, the guest's paths under /data.
        host = run(["sha256sum", *[os.path.join(tree, p) for p in paths]])
        guest = run([CAPSULE, *common, "/usr/bin/sha256sum", *["/data/" + p for p in paths]])
        want = host.stdout.replace(tree + "/", "/data/")
        if guest.returncode != 0 or guest.stdout != want:
            return fail(f"sha256sum differs; host:\n{want}", guest)
        # find: names, types, modes, owners, sizes, link targets.
        fmt = "%P %y %m %U %G %s %l\n"
        host = run(["find", tree, "-printf", fmt])
        guest = run([CAPSULE, *common, "/usr/bin/find", "/data", "-path", "/data/lost+found", "-prune", "-o",
                     "-printf", fmt])
        # A directory's size is its file system's business (blocks of entries): not compared.
        def norm(out):
            lines = []
            for line in out.splitlines():
                f = line.split(" ")
                if f[0] in ("", "lost+found"):
                    continue
                if f[1] == "d":
                    f[5] = "-"
                lines.append(" ".join(f))
            return sorted(lines)
        if guest.returncode != 0 or norm(guest.stdout) != norm(host.stdout):
            return fail(f"find differs; host:\n{host.stdout}", guest)
        # Bad input: a missing image is refused before QEMU starts.
        r = run([CAPSULE, "run", "--disk", os.path.join(work, "missing.img") + ":/data", "/bin/true"])
        if r.returncode != 2 or "no such file" not in r.stderr:
            return fail("a missing --disk file must be refused with status 2", r)
        print(f"PASS cli disk {machine}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
