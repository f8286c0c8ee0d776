#!/usr/bin/env python3
"""guest.cli.postgres: Debian's PostgreSQL in the VM (issue 13's end goal:
fork per connection, System V and POSIX shared memory, semaphores,
signals between the postmaster and its children, AF_UNIX sockets).
As user pg (setpriv from root, as PostgreSQL refuses to run as root):
initdb, the server on a Unix socket, psql creating a table of 1000 rows
and querying it, pg_ctl stop. The query's answer must be what Python
computes on the host from the same definition; the server must stop
cleanly ("server stopped") and the script exit 0.

The guest root is the host's postgresql-15 (+ client, util-linux, dash,
coreutils) package closure (package_root.py). Exit 77 (skip) when the host
lacks PostgreSQL 15.

    postgres_test.py [--cpus N] [--root auto|disk|initrd]

--root disk: the same on an ext4 disk root (guest.cli.postgres_disk): the
binaries are mapped from the disk and paged in as they run, the data
directory lives on the disk.
"""
import argparse
import hashlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import CAPSULE, ROOT  # noqa: E402
from capsule_cli import debpkg  # noqa: E402
from package_root import make_rootfs  # noqa: E402

PACKAGES = ("postgresql-15", "postgresql-client-15", "util-linux", "dash", "coreutils")
BIN = "/usr/lib/postgresql/15/bin"
SCRIPT = f"""set -e
B={BIN}
while read dev dir fs rest; do case "$dev $dir $fs" in "/dev/vda / ext4") echo root on disk;; esac; done < /proc/mounts
AS_PG="setpriv --reuid=1000 --regid=1000 --clear-groups"
mkdir -p /tmp/pg && chown pg:pg /tmp/pg
$AS_PG $B/initdb -D /tmp/pg/data -A trust -U pg --no-sync -E UTF8 --locale=C.UTF-8 > /tmp/pg/initdb.log 2>&1 \\
  || {{ cat /tmp/pg/initdb.log; exit 3; }}
echo initdb ok
$AS_PG $B/postgres -D /tmp/pg/data -c listen_addresses= -k /tmp/pg -c fsync=off > /tmp/pg/server.log 2>&1 &
i=0
until $AS_PG $B/pg_isready -h /tmp/pg -q; do
  i=$((i + 1)); [ $i -lt 240 ] || {{ cat /tmp/pg/server.log; exit 4; }}; sleep 0.5
done
echo server up
$AS_PG $B/psql -h /tmp/pg -U pg -d postgres -At -v ON_ERROR_STOP=1 -c \\
  "create table t(a int, b text); insert into t select g, md5(g::text) from generate_series(1, 1000) g;
   select count(*), sum(a), min(b) from t where a % 3 = 0;"
$AS_PG $B/psql -h /tmp/pg -U pg -d postgres -At -c "select count(*) from pg_stat_activity where backend_type = 'client backend'"
$AS_PG $B/pg_ctl -D /tmp/pg/data stop -m fast
"""
FILES = (("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\npg:x:1000:1000:pg:/tmp:/bin/sh\n"),
         ("/etc/group", "root:x:0:\npg:x:1000:\n"),
         ("/pg.sh", SCRIPT))


def expected():
    rows = [g for g in range(1, 1001) if g % 3 == 0]
    md5 = min(hashlib.md5(str(g).encode()).hexdigest() for g in rows)
    return f"{len(rows)}|{sum(rows)}|{md5}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpus", default="2")
    ap.add_argument("--root", default="auto", choices=("auto", "disk", "initrd"))
    a = ap.parse_args()
    db = debpkg.Db()
    if not all(p in db.installed for p in PACKAGES) or not os.path.exists(BIN + "/postgres"):
        print(f"SKIP: the host lacks one of {PACKAGES}")
        return 77
    build = os.environ.get("CAPSULE_BUILD_DIR", os.path.join(ROOT, "build"))
    root = os.path.join(build, "postgres-rootfs")
    make_rootfs(db, root, PACKAGES, FILES)
    cmd = [CAPSULE, "run", "--cpus", a.cpus, "--mem", "1G", "--root", a.root, "--rootfs", root, "/bin/sh", "/pg.sh"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=270)
    except subprocess.TimeoutExpired as e:
        print("FAIL: the VM did not finish in 270 s\n", (e.stdout or b"")[-3000:])
        return 1
    print(f"status {r.returncode}\n{r.stdout}")
    lines = r.stdout.splitlines()
    problems = []
    if r.returncode != 0:
        problems.append(f"exit status {r.returncode}, want 0")
    if a.root == "disk" and "root on disk" not in lines:
        problems.append("the root is not the disk (/proc/mounts has no '/dev/vda / ext4')")
    for want in ("initdb ok", "server up", "CREATE TABLE", "INSERT 0 1000", expected(), "1", "server stopped"):
        if want not in lines:
            problems.append(f"no line {want!r}")
    if problems:
        print("FAIL: " + "; ".join(problems) + "\n---- stderr\n" + r.stderr[-4000:])
        return 1
    print("PASS postgres")
    return 0


if __name__ == "__main__":
    sys.exit(main())
