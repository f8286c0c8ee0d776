"""ELF dependency resolution (capsule_cli/elfdeps.py) against ldd on real
host binaries, and the ld.so search order on synthetic objects."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import common  # noqa: F401
from capsule_cli import elfdeps


def ldd(path):
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, text=True, check=True).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+) \(", line)
        if m:
            libs[m.group(1)] = m.group(2)
    return libs


HOST_PROGRAMS = ["/bin/ls", "/usr/bin/python3", "/usr/bin/qemu-system-x86_64", "/usr/bin/cmake"]


class AgainstLdd(unittest.TestCase):
    def test_host_programs(self):
        tested = 0
        for prog in HOST_PROGRAMS:
            if not os.path.exists(prog):
                continue
            tested += 1
            with self.subTest(prog=prog):
                r = elfdeps.resolve(prog)
                self.assertEqual(r.interp, "/lib64/ld-linux-x86-64.so.2")
                want = ldd(prog)
                got = {k: v for k, v in r.libs.items() if k in want}
                self.assertEqual(got, want)
                # Anything ldd did not list is the loader itself (libc needs it).
                for k, v in r.libs.items():
                    if k not in want:
                        self.assertEqual(os.path.realpath(v), os.path.realpath(r.interp))
        self.assertGreaterEqual(tested, 2)

    def test_static_program_has_nothing(self):
        bb = "/bin/busybox"
        if not os.path.exists(bb):
            self.skipTest("busybox-static not installed")
        r = elfdeps.resolve(bb)
        self.assertIsNone(r.interp)
        self.assertEqual(r.libs, {})
        self.assertEqual(r.paths(), [bb])

    def test_ld_so_cache_parses(self):
        cache = elfdeps.ld_so_cache()
        self.assertIn("libc.so.6", cache)
        for p in cache["libc.so.6"]:
            self.assertTrue(os.path.exists(p), p)


class Rejects(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.d)

    def test_not_elf(self):
        p = os.path.join(self.d, "script")
        with open(p, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        with self.assertRaisesRegex(elfdeps.ElfError, "not an ELF"):
            elfdeps.check_program(p)

    def test_truncated(self):
        p = os.path.join(self.d, "trunc")
        with open("/bin/ls", "rb") as f:
            head = f.read(70)
        with open(p, "wb") as f:
            f.write(head)
        with self.assertRaises(elfdeps.ElfError):
            elfdeps.resolve(p)

    def test_wrong_machine(self):
        p = os.path.join(self.d, "arm")
        with open("/bin/ls", "rb") as f:
            data = bytearray(f.read())
        data[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
        with open(p, "wb") as f:
            f.write(data)
        with self.assertRaisesRegex(elfdeps.ElfError, "not an x86-64 program"):
            elfdeps.check_program(p)


@unittest.skipUnless(shutil.which("gcc"), "needs gcc")
class SearchOrder(unittest.TestCase):
    """Libraries built here: RPATH vs RUNPATH vs $ORIGIN, as ld.so does."""

    def setUp(self):
        self.d = tempfile.mkdtemp()
        src = os.path.join(self.d, "f.c")
        with open(src, "w") as f:
            f.write("int f(void) { return 1; }\n")
        for sub in ("a", "b"):
            os.makedirs(os.path.join(self.d, sub))
            subprocess.run(["gcc", "-shared", "-fPIC", "-o", os.path.join(self.d, sub, "libf.so"), src], check=True)
        self.main = os.path.join(self.d, "main.c")
        with open(self.main, "w") as f:
            f.write("int f(void); int main(void) { return f() - 1; }\n")

    def tearDown(self):
        shutil.rmtree(self.d)

    def link(self, name, *flags):
        out = os.path.join(self.d, name)
        subprocess.run(["gcc", "-o", out, self.main, "-L" + os.path.join(self.d, "a"), "-lf", *flags], check=True)
        return out

    def test_runpath_origin(self):
        p = self.link("p1", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/b")
        r = elfdeps.resolve(p)
        self.assertEqual(r.libs["libf.so"], os.path.join(self.d, "b", "libf.so"))
        self.assertEqual(ldd(p)["libf.so"], r.libs["libf.so"])

    def test_rpath_before_runpath_dirs(self):
        p = self.link("p2", "-Wl,--disable-new-dtags,-rpath,$ORIGIN/a:$ORIGIN/b")
        info = elfdeps.read_elf(p)
        self.assertFalse(info.has_runpath)
        self.assertEqual(elfdeps.resolve(p).libs["libf.so"], os.path.join(self.d, "a", "libf.so"))
        self.assertEqual(ldd(p)["libf.so"], os.path.join(self.d, "a", "libf.so"))

    def test_missing_library_is_named(self):
        p = self.link("p3")  # no rpath: libf.so is nowhere ld.so looks
        with self.assertRaises(elfdeps.MissingLibrary) as cm:
            elfdeps.resolve(p)
        self.assertIn("libf.so", str(cm.exception))
        self.assertIn(p, str(cm.exception))


if __name__ == "__main__":
    unittest.main()
