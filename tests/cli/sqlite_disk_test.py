"""Debian's sqlite3 on a read-write ext4 disk (issue 14; docs/ext4.md,
docs/block.md): in the VM, `capsule run --disk IMG:/data sqlite3` makes a
database on the disk and fills it from a script (three tables, 10,000
rows in transactions, 60 commits of one row each, two indexes, an UPDATE,
a DELETE, a VACUUM), first in the default rollback-journal mode, then a
second database in WAL mode (fcntl locks, fsync, ftruncate,
pread/pwrite, a MAP_SHARED -shm file). After the VM exits:
  - e2fsck -fn finds the image clean;
  - no -journal, -wal or -shm file is left beside the databases (sqlite
    removes them when its last connection closes);
  - the host's sqlite3 reads each database copied out with debugfs:
    `PRAGMA integrity_check` is ok, and `.dump` is the same as that of the
    same script run by the host's sqlite3 on a host file;
  - what the script printed in the VM (counts and sums) is what it printed
    on the host.

    sqlite_disk_test.py [MACHINE]    (skipped, 77, without sqlite3)
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 600
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
SQLITE = "/usr/bin/sqlite3"
AGAIN = ("PRAGMA integrity_check; PRAGMA journal_mode; SELECT count(*), sum(qty) FROM orders;"
         " INSERT INTO log(msg) VALUES('second boot'); SELECT count(*), max(seq) FROM log;")


def script(mode):
    """The SQL both sides run: deterministic (no random(), no time), so
    the two databases must hold the same rows."""
    s = []
    if mode == "wal":
        s.append("PRAGMA journal_mode=WAL;")
    s.append("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, score REAL);")
    s.append("CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER, item TEXT, qty INTEGER, note BLOB);")
    s.append("CREATE TABLE log(seq INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT);")
    # 2,000 users in 10 transactions of 200 INSERT statements each.
    for t in range(10):
        s.append("BEGIN;")
        for i in range(t * 200 + 1, t * 200 + 201):
            s.append(f"INSERT INTO users VALUES({i}, 'user {i:05d}', 'u{i}@example.org', {i * 1.25});")
        s.append("COMMIT;")
    # 8,000 orders in 8 transactions of 1,000 rows, blobs of 40-160 bytes.
    for t in range(8):
        lo = t * 1000 + 1
        s.append("BEGIN;")
        s.append(f"WITH RECURSIVE c(x) AS (SELECT {lo} UNION ALL SELECT x + 1 FROM c WHERE x < {lo + 999}) "
                 "INSERT INTO orders SELECT x, 1 + (x * 7919) % 2000, printf('item-%08x', (x * 2654435761) % 4294967296), "
                 "x % 17, CAST(printf('%0*d', 40 + x % 121, x) AS BLOB) FROM c;")
        s.append("COMMIT;")
    # 60 commits of one row: each its own transaction (journal or WAL
    # frame written and fsync'd each time).
    for i in range(60):
        s.append(f"INSERT INTO log(msg) VALUES('commit {i}');")
    s.append("CREATE INDEX orders_user ON orders(user_id);")
    s.append("CREATE UNIQUE INDEX users_email ON users(email);")
    s.append("UPDATE orders SET qty = qty + 100, note = note || 'updated' WHERE id % 7 = 0;")
    s.append("BEGIN; DELETE FROM users WHERE id % 13 = 0; DELETE FROM orders WHERE user_id % 13 = 0; COMMIT;")
    s.append("VACUUM;")  # the database rewritten, then truncated
    s.append("INSERT INTO log(msg) VALUES('after vacuum');")
    s.append("SELECT 'users', count(*), sum(score) FROM users;")
    s.append("SELECT 'orders', count(*), sum(qty), sum(length(note)) FROM orders;")
    s.append("SELECT 'log', count(*), max(seq) FROM log;")
    s.append("SELECT 'by index', count(*) FROM orders INDEXED BY orders_user WHERE user_id BETWEEN 100 AND 200;")
    s.append("PRAGMA integrity_check;")
    s.append("PRAGMA journal_mode;")
    return "\n".join(s) + "\n"


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       timeout=TIMEOUT, text=True, **kw)
    print("$", " ".join(cmd), f"-> {r.returncode}", flush=True)
    return r


def fail(msg, r=None):
    print(f"FAILED: {msg}")
    if r is not None:
        print("--- stdout ---\n" + r.stdout[-3000:] + "\n--- stderr ---\n" + r.stderr[-3000:])
    return 1


def main():
    machine = sys.argv[1] if len(sys.argv) > 1 else "microvm"
    if not os.path.exists(SQLITE):
        print(f"SKIP: {SQLITE} is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="capsule-sqlite-disk-")
    try:
        tree = os.path.join(work, "tree")
        host_dir = os.path.join(work, "host")
        os.makedirs(tree)
        os.makedirs(host_dir)
        modes = ("rollback", "wal")
        for mode in modes:
            with open(os.path.join(tree, mode + ".sql"), "w") as f:
                f.write(script(mode))
        img = os.path.join(work, "disk.img")
        r = run([CAPSULE, "disk", "create", "--size", "64M", "--from", tree, img])
        if r.returncode != 0:
            return fail("disk create failed", r)
        for mode in modes:
            host = run([SQLITE, os.path.join(host_dir, mode + ".db"), f".read {os.path.join(tree, mode + '.sql')}"],
                       env=ENV, cwd="/")
            if host.returncode != 0 or host.stderr:
                return fail(f"the script failed on the host ({mode})", host)
            guest = run([CAPSULE, "run", "--machine", machine, "--net", "none", "--disk", img + ":/data",
                         SQLITE, f"/data/{mode}.db", f".read /data/{mode}.sql"], env=dict(os.environ, **ENV), cwd="/")
            if guest.returncode != 0 or guest.stdout != host.stdout:
                return fail(f"sqlite3 in the VM ({mode}): status {guest.returncode}, output differs from "
                            f"the host's:\n{host.stdout}", guest)
            print(f"{mode}: the VM printed what the host printed:\n{host.stdout}")
        # A second boot: the databases read from the disk (no page of them
        # cached), checked and written once more (WAL: a new -wal and -shm
        # beside an existing WAL database).
        for mode in modes:
            host = run([SQLITE, os.path.join(host_dir, mode + ".db"), AGAIN], env=ENV, cwd="/")
            guest = run([CAPSULE, "run", "--machine", machine, "--net", "none", "--disk", img + ":/data",
                         SQLITE, f"/data/{mode}.db", AGAIN], env=dict(os.environ, **ENV), cwd="/")
            if host.returncode != 0 or guest.returncode != 0 or guest.stdout != host.stdout:
                return fail(f"second boot ({mode}): status {guest.returncode}, output differs from "
                            f"the host's:\n{host.stdout}", guest)
            print(f"{mode}, second boot: as on the host:\n{host.stdout}")
        fsck = run(["e2fsck", "-fn", img])
        if fsck.returncode != 0:
            return fail("e2fsck -fn: the image is not clean", fsck)
        ls = run(["debugfs", "-R", "ls -l /", img])
        names = sorted(line.split()[-1] for line in ls.stdout.splitlines() if line.strip())
        want = sorted([".", "..", "lost+found"] + [m + ext for m in modes for ext in (".sql", ".db")])
        if names != want:
            return fail(f"the disk's root holds {names}, expected {want}", ls)
        for mode in modes:
            copy = os.path.join(work, mode + "-from-disk.db")
            d = run(["debugfs", "-R", f"dump /{mode}.db {copy}", img])
            if d.returncode != 0 or not os.path.exists(copy):
                return fail(f"debugfs could not copy {mode}.db out", d)
            check = run([SQLITE, copy, "PRAGMA integrity_check;"])
            if check.returncode != 0 or check.stdout != "ok\n":
                return fail(f"{mode}.db from the disk: integrity_check", check)
            dumps = [run([SQLITE, p, ".dump"]) for p in (copy, os.path.join(host_dir, mode + ".db"))]
            if any(x.returncode != 0 for x in dumps) or dumps[0].stdout != dumps[1].stdout:
                import difflib
                diff = "".join(list(difflib.unified_diff(dumps[1].stdout.splitlines(True),
                                                         dumps[0].stdout.splitlines(True), "host", "disk"))[:40])
                return fail(f"{mode}.db: the dump of the disk's copy differs from the host's:\n{diff}")
            size = os.path.getsize(copy)
            same = open(copy, "rb").read() == open(os.path.join(host_dir, mode + ".db"), "rb").read()
            print(f"{mode}.db: integrity ok, {len(dumps[0].stdout.splitlines())} dump lines as on the host, "
                  f"{size} bytes ({'byte for byte' if same else 'not byte for byte'} the host's file)")
        print(f"PASS cli sqlite disk {machine}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
