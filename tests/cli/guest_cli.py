"""End-to-end `capsule` runs of a static program (tests/cli/CMakeLists.txt):

    guest_cli.py PROGRAM cwd    --cwd and --env reach the program
    guest_cli.py PROGRAM image  capsule build -o DIR, then capsule run
                                --image DIR and DIR/run.sh boot it with the
                                program's exit status
    guest_cli.py PROGRAM tree   modes, symlinks (dangling too), empty
                                directories and hard links of an --add'ed
                                tree, as busybox stat sees them in the guest
                                and on the host
    guest_cli.py PROGRAM big    a 100 MB tree boots without --mem (automatic
                                memory), its files read back intact, and the
                                second run is an image cache hit
    guest_cli.py PROGRAM bigdisk a 300 MB tree (more than the guest's 128M)
                                boots from a disk root (--root auto), every
                                file's md5 as on the host; the second run
                                reuses the cached disk (no mkfs)
    guest_cli.py PROGRAM treedisk  `tree` forced to --root disk: the same
                                stat lines as on the host
    guest_cli.py PROGRAM imagedisk `image` with --root disk: DIR/root.ext4,
                                run --image and run.sh boot it
    guest_cli.py PROGRAM rootfs --rootfs DIR is the whole root, as it is
    guest_cli.py PROGRAM demo   `capsule run` alone boots the hello module;
                                `--module busybox` its default config

PROGRAM is tests/cli/programs/cwd_env.c built static; it is first run
natively on the host, which proves the expectations are Linux's.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 120


def run(cmd, timeout=TIMEOUT, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       stdin=subprocess.DEVNULL, timeout=timeout, **kw)
    print("$", " ".join(cmd), f"-> {r.returncode}")
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r


def expect(r, status, *texts):
    ok = r.returncode == status
    if not ok:
        print(f"FAIL: status {r.returncode}, expected {status}")
    for t in texts:
        if t not in r.stdout:
            print(f"FAIL: output lacks {t!r}")
            ok = False
    if "FAIL" in r.stdout:
        ok = False
    return ok


def check_host_free(image_dir, work, guest_paths):
    """run.sh and manifest.json carry no fact of the build host: no TSC
    rate, no accelerator chosen, no host path (the work directory, the
    tree, the cache) other than `guest_paths` (a host program keeps its
    host path in the guest)."""
    ok = True
    roots = [work, os.path.abspath(os.path.join(HERE, "..", ".."))]
    roots += [os.environ[k] for k in ("CAPSULE_CACHE", "CAPSULE_BUILD_DIR") if os.environ.get(k)]
    for name in ("run.sh", "manifest.json"):
        with open(os.path.join(image_dir, name)) as f:
            text = f.read()
        for g in guest_paths:
            text = text.replace(g, "GUEST")
        if re.search(r"--tsc-khz=\d", text):
            print(f"FAIL: {name} carries a TSC rate")
            ok = False
        if re.search(r"-accel['\"]? +['\"]?(kvm|tcg)|\"qemu\"", text):
            print(f"FAIL: {name} carries the build host's accelerator or QEMU command")
            ok = False
        for r in roots:
            if r and r != "/" and r in text:
                print(f"FAIL: {name} names the host path {r}")
                ok = False
    return ok


def main():
    prog, what = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="capsule-cli-test-")
    try:
        app = os.path.join(work, "app")
        os.makedirs(app)
        with open(os.path.join(app, "marker"), "w") as f:
            f.write("marker\n")
        env_args = ["GREETING=hello world", "EMPTY="]
        native = run([prog, app, *env_args], cwd=app, env=dict(os.environ, GREETING="hello world", EMPTY=""))
        ok = expect(native, 0, "PASS cwd_env")
        if what == "cwd":
            r = run([CAPSULE, "run", "--add", f"{app}:/srv/app", "--cwd", "/srv/app",
                     "--env", "GREETING=hello world", "--env", "EMPTY=", prog, "/srv/app", *env_args,
                     "HOME=/root", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
            ok &= expect(r, 0, "cwd=/srv/app", "GREETING=hello world", "PASS cwd_env")
        elif what in ("image", "imagedisk"):
            out = os.path.join(work, "image")
            root = ["--root", "disk"] if what == "imagedisk" else []
            r = run([CAPSULE, "build", *root, "--add", f"{app}:/data", "--cwd", "/data", "--env", "EXIT_STATUS=42",
                     prog, "/data", "EXIT_STATUS=42", "-o", out])
            ok &= r.returncode == 0
            files = ["capsule.elf", "initrd.cpio", "run.sh", "manifest.json"]
            if what == "imagedisk":
                files.append("root.ext4")
                with open(os.path.join(out, "run.sh")) as f:
                    text = f.read()
                if "file=root.ext4" not in text or "--root-disk=capsule-root" not in text:
                    print("FAIL: run.sh does not attach root.ext4 as the root disk")
                    ok = False
            for f in files:
                if not os.path.exists(os.path.join(out, f)):
                    print(f"FAIL: {out}/{f} missing")
                    ok = False
            ok &= expect(run([CAPSULE, "run", "--image", out]), 42, "cwd=/data", "PASS cwd_env")
            # The image directory can move: run.sh needs nothing but QEMU.
            moved = os.path.join(work, "moved")
            shutil.move(out, moved)
            ok &= expect(run([os.path.join(moved, "run.sh")], cwd="/"), 42, "cwd=/data", "PASS cwd_env")
            ok &= check_host_free(moved, work, [os.path.realpath(prog)])
            # run.sh reads its own host's facts when it starts: a QEMU on
            # PATH that records its arguments shows the TSC rate it passed,
            # this host's (as qemu.py reads it), or the simulated one of
            # CAPSULE_TSC_KHZ; 0 passes none (the kernel calibrates).
            sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "capsule"))
            from capsule_cli import qemu
            fake = os.path.join(work, "fakebin")
            os.makedirs(fake)
            log = os.path.join(work, "qemu-args")
            real = shutil.which("qemu-system-x86_64")
            with open(os.path.join(fake, "qemu-system-x86_64"), "w") as f:
                f.write(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\nexec {real} "$@"\n')
            os.chmod(os.path.join(fake, "qemu-system-x86_64"), 0o755)
            path = fake + ":" + os.environ.get("PATH", "")
            for khz, want in ((None, f"--tsc-khz={qemu.host_tsc_khz()} "), ("1234567", "--tsc-khz=1234567 "),
                              ("0", None)):
                env = dict(os.environ, PATH=path, CAPSULE_ACCEL="tcg")
                env.pop("CAPSULE_TSC_KHZ", None)
                if khz is not None:
                    env["CAPSULE_TSC_KHZ"] = khz
                ok &= expect(run([os.path.join(moved, "run.sh")], cwd="/", env=env), 42, "PASS cwd_env")
                with open(log) as f:
                    args = f.read().splitlines()
                append = args[args.index("-append") + 1]
                print(f"CAPSULE_TSC_KHZ={khz}: -append {append}")
                if (want and not append.startswith(want)) or (not want and "--tsc-khz" in append):
                    print(f"FAIL: run.sh passed {append!r}, expected {want or 'no --tsc-khz'}")
                    ok = False
                if args[args.index("-accel") + 1] != "tcg" or args[args.index("-cpu") + 1] != "max":
                    print("FAIL: CAPSULE_ACCEL=tcg did not give -accel tcg -cpu max")
                    ok = False
        elif what in ("tree", "treedisk"):
            t = os.path.join(work, "tree")
            os.makedirs(os.path.join(t, "empty"))
            os.makedirs(os.path.join(t, "private"), mode=0o700)
            os.chmod(os.path.join(t, "private"), 0o750)
            with open(os.path.join(t, "private", "secret"), "w") as f:
                f.write("secret\n")
            os.chmod(os.path.join(t, "private", "secret"), 0o600)
            with open(os.path.join(t, "tool"), "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(os.path.join(t, "tool"), 0o4755)
            os.link(os.path.join(t, "tool"), os.path.join(t, "tool2"))
            os.symlink("private/secret", os.path.join(t, "link"))
            os.symlink("/nowhere/at/all", os.path.join(t, "dangling"))
            names = ["empty", "private", "private/secret", "tool", "tool2", "link", "dangling"]
            cmd = ["stat", "-c", "%n %a %F %h %N"] + names
            host = run(["/bin/busybox", *cmd], cwd=t)
            ok &= host.returncode == 0 and len(host.stdout.splitlines()) == len(names)
            root = ["--root", "disk"] if what == "treedisk" else []
            r = run([CAPSULE, "run", *root, "--add", f"{t}:/t", "--cwd", "/t", "/bin/busybox", *cmd])
            ok &= r.returncode == 0
            if r.stdout.splitlines()[-len(names):] != host.stdout.splitlines():
                print("FAIL: the guest sees the tree differently from the host")
                ok = False
        elif what == "big":
            import hashlib
            big = os.path.join(work, "big")
            os.makedirs(big)
            block = hashlib.sha512(b"capsule").digest() * 16384  # 1 MiB, the same every run
            for i in range(100):
                p = os.path.join(big, f"f{i:03}")
                with open(p, "wb") as f:
                    f.write(bytes([i]) + block[1:])
                os.utime(p, (1700000000, 1700000000))
            os.utime(big, (1700000000, 1700000000))
            names = ["/big/f000", "/big/f042", "/big/f099"]
            host = run(["md5sum", *[os.path.join(work, n.lstrip("/")) for n in names]])
            sums = [l.split()[0] for l in host.stdout.splitlines()]
            cmd = [CAPSULE, "run", "--verbose", "--root", "initrd", "--add", f"{big}:/big", "/bin/busybox", "md5sum",
                   *names]
            for attempt in (1, 2):
                r = run(cmd)
                ok &= expect(r, 0, *[f"{h}  {n}" for h, n in zip(sums, names)])
                if not re.search(r"memory 35\dM", r.stderr):
                    print("FAIL: automatic memory is not 128M + 2 x 100 MB rounded up")
                    ok = False
            if "image cache hit" not in r.stderr:
                print("FAIL: the second run packed the image again")
                ok = False
        elif what == "bigdisk":
            import hashlib
            big = os.path.join(work, "big")
            os.makedirs(big)
            names = []
            for i in range(30):  # 300 MiB of content the same every run, no two files alike
                p = os.path.join(big, f"f{i:02}")
                with open(p, "wb") as f:
                    f.write(hashlib.sha512(b"capsule%d" % i).digest() * (10 << 14))  # 10 MiB
                os.utime(p, (1700000000, 1700000000))
                names.append(f"/big/f{i:02}")
            os.utime(big, (1700000000, 1700000000))
            host = run(["md5sum", *[os.path.join(work, n.lstrip("/")) for n in names]])
            want = [f"{l.split()[0]}  {n}" for l, n in zip(host.stdout.splitlines(), names)]
            cmd = [CAPSULE, "run", "--verbose", "--mem", "128M", "--add", f"{big}:/big", "/bin/busybox", "md5sum",
                   *names]
            for attempt in (1, 2):
                r = run(cmd, timeout=600)
                ok &= expect(r, 0, *want)
                if "root disk" not in r.stderr:
                    print("FAIL: a 300 MB image did not boot from a root disk")
                    ok = False
            if "image cache hit" not in r.stderr:
                print("FAIL: the second run made the root disk again")
                ok = False
        elif what == "rootfs":
            root = os.path.join(work, "root")
            for d in ("bin", "etc", "var/empty"):
                os.makedirs(os.path.join(root, d))
            shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
            os.symlink("busybox", os.path.join(root, "bin", "sh"))
            with open(os.path.join(root, "etc", "motd"), "w") as f:
                f.write("welcome to the rootfs\n")
            r = run([CAPSULE, "run", "--rootfs", root, "--cwd", "/etc", "/bin/busybox", "cat", "motd"])
            ok &= expect(r, 0, "welcome to the rootfs")
            r = run([CAPSULE, "run", "--rootfs", root, "/bin/busybox", "ls", "-1", "/", "/var", "/bin/sh"])
            ok &= expect(r, 0, "\nbin\n", "\netc\n", "\nvar\n", "/bin/sh", "/var:\nempty")
            if re.search(r"^(root|tmp)$", r.stdout, re.M):
                print("FAIL: --rootfs got generated directories")
                ok = False
        elif what == "demo":
            ok &= expect(run([CAPSULE, "run"]), 0, "Hello from Capsule!")
            ok &= expect(run([CAPSULE, "run", "--module", "busybox"]), 0, "bin -> usr/bin", "tmp")
        else:
            sys.exit(f"unknown test {what}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
