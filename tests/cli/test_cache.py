"""The image cache's memo, cap and eviction, `capsule cache`, the package
and kernel checks made by stat (imagecache.py, cache_cmd.py, deps.py,
build.py; docs/cli.md "Image cache" and "Start-up"). Host-side only, no VM.
Nothing here is timed: the start-up figures are bench/run/startup.py's."""
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "capsule"))

from capsule_cli import deps, imagecache, imagetree  # noqa: E402

CAPSULE = os.path.join(ROOT, "capsule")


class CacheTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="capsule-cache-test-")
        self.d = self.tmp.name
        self.cache = os.path.join(self.d, "cache")
        self.env_before = {k: os.environ.get(k) for k in ("CAPSULE_CACHE", "CAPSULE_CACHE_MAX")}
        os.environ["CAPSULE_CACHE"] = self.cache
        os.environ.pop("CAPSULE_CACHE_MAX", None)

    def tearDown(self):
        imagecache.release()
        for k, v in self.env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self.tmp.cleanup()

    def file(self, name, data):
        p = os.path.join(self.d, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def tree(self, *hosts):
        t = imagetree.Tree()
        for h in hosts:
            t.add_host(h, "/" + os.path.basename(h))
        return t

    def run_image(self, *hosts):
        """One `capsule run`'s lookup: the image, then its lock dropped as
        the run's exit would."""
        before = imagecache.PACKS
        out = imagecache.image_for(self.tree(*hosts), label=" ".join(os.path.basename(h) for h in hosts))
        imagecache.release()
        return out, imagecache.PACKS - before

    # The memo: a run reads only what it needs, and a changed input repacks.

    def test_hit_reads_no_content_memo(self):
        p = self.file("prog", b"A" * 5000)
        a, packed = self.run_image(p)
        self.assertEqual(packed, 1)
        # The signature alone decides a hit: the content memo may be gone.
        import shutil
        shutil.rmtree(os.path.join(self.cache, "hash"))
        b, packed = self.run_image(p)
        self.assertEqual((b, packed), (a, 0))
        self.assertFalse(os.path.exists(os.path.join(self.cache, "hashes.json")))

    def test_same_size_same_mtime_new_content_repacks(self):
        p = self.file("prog", b"A" * 5000)
        st = os.stat(p)
        a, _ = self.run_image(p)
        with open(p, "r+b") as f:
            f.write(b"B")  # same size
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime put back: ctime still moves
        self.assertEqual(os.stat(p).st_mtime_ns, st.st_mtime_ns)
        b, packed = self.run_image(p)
        self.assertEqual(packed, 1)
        self.assertNotEqual(a, b)

    def test_size_and_mtime_changes_repack(self):
        p = self.file("prog", b"A" * 5000)
        a, _ = self.run_image(p)
        self.file("prog", b"A" * 5001)
        b, packed = self.run_image(p)
        self.assertEqual(packed, 1)
        self.assertNotEqual(a, b)
        c, packed = self.run_image(p)
        self.assertEqual((c, packed), (b, 0))

    def test_touched_but_equal_is_a_hit_by_content(self):
        p = self.file("prog", b"A" * 5000)
        a, _ = self.run_image(p)
        t = os.stat(p).st_mtime_ns
        with open(p, "r+b") as f:
            f.write(b"A")  # the same byte: a new ctime, the same content
        os.utime(p, ns=(t, t))
        b, packed = self.run_image(p)
        self.assertEqual((b, packed), (a, 0))  # re-hashed, same key: nothing packed

    def test_memo_files_are_swept(self):
        p = self.file("prog", b"A" * 5000)
        q = self.file("other", b"C" * 100)
        self.run_image(p, q)
        os.unlink(q)
        self.run_image(p)
        imagecache.sweep(self.cache)
        left = [n for _, _, ns in os.walk(os.path.join(self.cache, "hash")) for n in ns]
        self.assertEqual(len(left), 1)  # prog's; other's host file is gone

    # The cap and least-recently-used eviction.

    def test_eviction_order_and_cap(self):
        progs = [self.file(f"p{i}", bytes([65 + i]) * 100000) for i in range(3)]
        a, _ = self.run_image(progs[0])
        size = os.path.getsize(a)
        os.environ["CAPSULE_CACHE_MAX"] = str(2 * size + size // 2)  # two images fit, not three
        b, _ = self.run_image(progs[1])
        time.sleep(0.01)
        self.assertEqual(self.run_image(progs[0]), (a, 0))  # a used last: b is the oldest
        time.sleep(0.01)
        c, packed = self.run_image(progs[2])
        self.assertEqual(packed, 1)
        self.assertTrue(os.path.exists(a))
        self.assertFalse(os.path.exists(b))
        self.assertTrue(os.path.exists(c))
        self.assertLessEqual(sum(e[1] for e in imagecache.entries(self.cache)), 2 * size + size // 2)

    def test_image_just_made_stays_beyond_the_cap(self):
        p = self.file("prog", b"A" * 100000)
        os.environ["CAPSULE_CACHE_MAX"] = "1K"
        a, _ = self.run_image(p)
        self.assertTrue(os.path.exists(a))

    def test_bad_cap(self):
        os.environ["CAPSULE_CACHE_MAX"] = "lots"
        with self.assertRaises(ValueError):
            imagecache.max_bytes()
        self.assertEqual(imagecache.parse_size("2G"), 2 << 30)
        self.assertEqual(imagecache.parse_size("500MiB"), 500 << 20)
        os.environ["CAPSULE_CACHE_MAX"] = "0"
        self.assertIsNone(imagecache.max_bytes())

    def test_running_vm_keeps_its_image(self):
        """A `capsule run` in another process holds its image: neither the
        cap nor `cache clear` takes it from under the VM."""
        p = self.file("prog", b"A" * 100000)
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sys; sys.path.insert(0, sys.argv[1])\n"
             "from capsule_cli import imagecache, imagetree\n"
             "t = imagetree.Tree(); t.add_host(sys.argv[2], '/prog')\n"
             "print(imagecache.image_for(t), flush=True); sys.stdin.read()",
             os.path.join(ROOT, "tools", "capsule"), p],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            held = holder.stdout.readline().strip()
            self.assertTrue(os.path.exists(held))
            removed, _ = imagecache.clear(self.cache)
            self.assertEqual(removed, 0)
            self.assertTrue(os.path.exists(held))
            self.assertEqual(imagecache.evict(self.cache, 0), (0, 0))
            self.assertTrue(os.path.exists(held))
            # The same tree in this process is a hit on the held image.
            self.assertEqual(self.run_image(p), (held, 0))
        finally:
            holder.stdin.close()
            holder.wait(timeout=60)
            holder.stdout.close()
        removed, _ = imagecache.clear(self.cache)
        self.assertEqual(removed, 1)
        self.assertFalse(os.path.exists(held))
        # Gone from the cache: the next run packs it again.
        self.assertEqual(self.run_image(p)[1], 1)

    # capsule cache list | size | prune | clear

    def cli(self, *args, env=None):
        r = subprocess.run([CAPSULE, "cache", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ, **(env or {})), timeout=60)
        return r.returncode, r.stdout, r.stderr

    def test_cache_command(self):
        a, _ = self.run_image(self.file("first", b"A" * 100000))
        time.sleep(0.01)
        b, _ = self.run_image(self.file("second", b"B" * 100000))
        rc, out, _ = self.cli("list")
        self.assertEqual(rc, 0)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0].startswith(os.path.basename(b)[:-5]) and lines[0].endswith("second"))
        self.assertTrue(lines[1].endswith("first"))
        rc, out, _ = self.cli("size")
        total = os.path.getsize(a) + os.path.getsize(b)
        self.assertEqual((rc, out.split()[0]), (0, str(total)))
        self.assertIn("cap 2048.0 MiB", out)
        rc, out, err = self.cli("prune", "--max", "nonsense")
        self.assertEqual(rc, 2)
        self.assertIn("bad size", err)
        rc, out, _ = self.cli("prune", "--max", str(os.path.getsize(b)))
        self.assertEqual((rc, out.split()[1]), (0, "1"))
        self.assertFalse(os.path.exists(a))  # the least recently used
        self.assertTrue(os.path.exists(b))
        rc, out, _ = self.cli("clear")
        self.assertEqual((rc, out.split()[1]), (0, "1"))
        self.assertEqual(imagecache.entries(self.cache), [])
        self.assertEqual(self.cli("bogus")[0], 2)


class DpkgStampTest(unittest.TestCase):
    """deps.ensure asks dpkg-query only when dpkg's database changed since a
    check found everything."""

    def test_stamp_follows_dpkg_database(self):
        with tempfile.TemporaryDirectory() as d:
            os.environ["CAPSULE_CACHE"] = os.path.join(d, "cache")
            old = deps.DPKG_DB
            try:
                deps.DPKG_DB = os.path.join(d, "dpkg")
                os.makedirs(os.path.join(deps.DPKG_DB, "updates"))
                with open(os.path.join(deps.DPKG_DB, "status"), "w") as f:
                    f.write("one\n")
                state = deps._dpkg_state()
                self.assertFalse(deps._known_installed(["a", "b"], state))
                deps._remember(["a", "b"], state)
                self.assertTrue(deps._known_installed(["b"], deps._dpkg_state()))
                self.assertFalse(deps._known_installed(["c"], deps._dpkg_state()))
                with open(os.path.join(deps.DPKG_DB, "status"), "w") as f:
                    f.write("two\n")  # a package came or went
                self.assertFalse(deps._known_installed(["a"], deps._dpkg_state()))
                # A journal entry (dpkg mid-change) changes the directory.
                deps._remember(["a"], deps._dpkg_state())
                with open(os.path.join(deps.DPKG_DB, "updates", "0000"), "w") as f:
                    f.write("x")
                self.assertFalse(deps._known_installed(["a"], deps._dpkg_state()))
            finally:
                deps.DPKG_DB = old
                os.environ.pop("CAPSULE_CACHE", None)


KERNEL_STAMP_SCRIPT = """
import os, sys
sys.path.insert(0, sys.argv[1])
from capsule_cli import build
before = build.kernel_up_to_date()
build.build_kernel()
print(before, build.kernel_up_to_date())
"""


class KernelStampTest(unittest.TestCase):
    """build.build_kernel runs ninja unless every file ninja would consult
    is as it was after the last successful build (a small ninja project
    with header dependencies: the real tree's graph has the same shape)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="capsule-stamp-test-")
        d = self.tmp.name
        self.src, self.b = os.path.join(d, "src"), os.path.join(d, "b")
        os.makedirs(self.src)
        os.makedirs(self.b)
        self.write("m.c", '#include "a.h"\nint main(void) { return A; }\n')
        self.write("a.h", "#define A 3\n")
        with open(os.path.join(self.b, "build.ninja"), "w") as f:
            f.write("rule cc\n  command = gcc -MD -MF $out.d -c $in -o $out\n  depfile = $out.d\n  deps = gcc\n"
                    "rule ld\n  command = gcc $in -o $out\n"
                    f"build m.o: cc {self.src}/m.c\nbuild capsule.elf: ld m.o\n")

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        with open(os.path.join(self.src, name), "w") as f:
            f.write(text)

    def step(self):
        """(up to date before, after) from a fresh process, as a run sees it."""
        r = subprocess.run([sys.executable, "-c", KERNEL_STAMP_SCRIPT, os.path.join(ROOT, "tools", "capsule")],
                           env=dict(os.environ, CAPSULE_BUILD_DIR=self.b), stdout=subprocess.PIPE, text=True,
                           timeout=120, check=True)
        return r.stdout.split()

    def kernel_status(self):
        return subprocess.run([os.path.join(self.b, "capsule.elf")]).returncode

    def test_changes_rebuild(self):
        self.assertEqual(self.step(), ["False", "True"])
        self.assertEqual(self.kernel_status(), 3)
        self.assertEqual(self.step(), ["True", "True"])  # nothing changed: no ninja
        time.sleep(0.01)
        self.write("a.h", "#define A 4\n")  # a header, known from ninja's deps log
        self.assertEqual(self.step(), ["False", "True"])
        self.assertEqual(self.kernel_status(), 4)
        st = os.stat(os.path.join(self.src, "m.c"))
        self.write("m.c", '#include "a.h"\nint main(void) { return A+1; }\n')
        os.utime(os.path.join(self.src, "m.c"), ns=(st.st_atime_ns, st.st_mtime_ns))
        # Other size, mtime put back: the stamp sends it to ninja (which
        # itself goes by mtime and keeps m.o).
        self.assertEqual(self.step(), ["False", "True"])
        os.utime(os.path.join(self.src, "m.c"))
        self.assertEqual(self.step(), ["False", "True"])
        self.assertEqual(self.kernel_status(), 5)
        os.unlink(os.path.join(self.b, "capsule.elf"))
        self.assertEqual(self.step(), ["False", "True"])
        self.assertEqual(self.kernel_status(), 5)
        with open(os.path.join(self.b, "build.ninja"), "a") as f:
            f.write("\n")
        self.assertEqual(self.step()[0], "False")


class LazyImportTest(unittest.TestCase):
    def test_run_path_imports(self):
        """The modules only some commands need are not loaded to parse a
        command line (docs/cli.md "Start-up")."""
        r = subprocess.run([sys.executable, "-S", "-c",
                            "import sys; sys.path.insert(0, sys.argv[1]); from capsule_cli import cli; "
                            "print(' '.join(sorted(sys.modules)))", os.path.join(ROOT, "tools", "capsule")],
                           stdout=subprocess.PIPE, text=True, check=True, timeout=60)
        loaded = set(r.stdout.split())
        for m in ("tempfile", "json", "hashlib", "shutil", "capsule_cli.deploy", "capsule_cli.stdio",
                  "capsule_cli.cache_cmd", "ctypes"):
            self.assertNotIn(m, loaded)


if __name__ == "__main__":
    unittest.main()
