"""A guest root made of the host's Debian packages, for tests that run a
program needing much more than its own package (make + gcc, PostgreSQL):
the packages' dependency closure as `capsule run` resolves it
(capsule_cli/debpkg.py), copied once under the build directory and
remade when dpkg's status file changes. Debian's merged /usr is kept
(/bin, /lib, /lib64, /sbin are links into /usr); /bin/sh is dash."""
import os
import shutil

STATUS = "/var/lib/dpkg/status"


def make_rootfs(db, root, packages, files=()):
    """`files`: (guest path, text) written into the tree."""
    stamp = os.path.join(root, ".dpkg-status")
    want = str(os.stat(STATUS).st_mtime_ns) + " " + " ".join(packages) + repr(files)
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    shutil.rmtree(root, ignore_errors=True)
    for d in ("usr/bin", "usr/lib", "usr/lib64", "usr/sbin", "tmp", "etc"):
        os.makedirs(os.path.join(root, d))
    for d in ("bin", "lib", "lib64", "sbin"):
        os.symlink("usr/" + d, os.path.join(root, d))
    for name, _ in db.closure([(p, "test") for p in packages]):
        for path in db.files(name) or []:
            dst = root + path
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.lexists(dst):
                continue
            if os.path.islink(path):
                os.symlink(os.readlink(path), dst)
            elif os.path.isfile(path):
                shutil.copy2(path, dst)
    # /bin/sh is dash's by a link Debian makes at install time, in no list.
    if not os.path.lexists(os.path.join(root, "usr/bin/sh")):
        os.symlink("dash", os.path.join(root, "usr/bin/sh"))
    for guest, text in files:
        with open(root + guest, "w") as f:
            f.write(text)
    with open(stamp, "w") as f:
        f.write(want)
