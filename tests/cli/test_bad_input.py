"""`./capsule run` and `./capsule build` with bad input: one line on stderr
naming the problem, a non-zero status, and no VM (nothing on stdout, no
QEMU started)."""
import os
import shutil
import subprocess
import tempfile
import unittest

import common


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = tempfile.mkdtemp()
        cls.env = dict(os.environ, CAPSULE_CACHE=os.path.join(cls.d, "cache"))
        cls.script = os.path.join(cls.d, "script.sh")
        with open(cls.script, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(cls.script, 0o755)
        with open("/bin/busybox" if os.path.exists("/bin/busybox") else "/bin/ls", "rb") as f:
            data = bytearray(f.read())
        cls.arm = os.path.join(cls.d, "arm-program")
        data[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
        with open(cls.arm, "wb") as f:
            f.write(data)
        cls.elf32 = os.path.join(cls.d, "elf32")
        data[4] = 1  # ELFCLASS32
        with open(cls.elf32, "wb") as f:
            f.write(data)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.d)

    def capsule(self, *args):
        r = subprocess.run([common.CAPSULE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=self.env, timeout=120)
        return r.returncode, r.stdout, r.stderr

    def check(self, args, message):
        rc, out, err = self.capsule(*args)
        self.assertNotEqual(rc, 0, args)
        self.assertEqual(out, "", args)
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, f"{args}: {err!r}")
        self.assertTrue(lines[0].startswith("capsule: "), lines[0])
        self.assertIn(message, lines[0])

    def test_missing_program(self):
        self.check(["run", "/no/such/program"], "program '/no/such/program' does not exist")
        self.check(["run", "no-such-program-on-path"], "'no-such-program-on-path' not found on $PATH")

    def test_not_elf(self):
        self.check(["run", self.script], "is not an ELF program")

    def test_not_x86_64(self):
        self.check(["run", self.arm], "is not an x86-64 program")
        self.check(["run", self.elf32], "is a 32-bit program")

    @unittest.skipUnless(shutil.which("gcc"), "needs gcc")
    def test_missing_library(self):
        lib = os.path.join(self.d, "libgone.so")
        src = os.path.join(self.d, "gone.c")
        main = os.path.join(self.d, "main.c")
        with open(src, "w") as f:
            f.write("int gone(void) { return 0; }\n")
        with open(main, "w") as f:
            f.write("int gone(void);\nint main(void) { return gone(); }\n")
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", lib, src], check=True)
        prog = os.path.join(self.d, "needs-gone")
        subprocess.run(["gcc", "-o", prog, main, "-L" + self.d, "-lgone"], check=True)
        self.check(["run", prog], "shared library 'libgone.so' (needed by")

    def test_unknown_module(self):
        self.check(["run", "--module", "no-such-module"], "unknown module 'no-such-module'")
        self.check(["build", "--module", "no-such-module", "-o", os.path.join(self.d, "out")],
                   "unknown module 'no-such-module'")

    def test_module_graph_errors(self):
        mods = os.path.join(self.d, "modules")
        for name, text in {
            "cyc-a": "requires = ['cyc-b']\n", "cyc-b": "requires = ['cyc-a']\n",
            "needs-ghost": "requires = ['ghost']\n",
            "bad-files": "def files(m):\n    m.add_host('/no/such/file')\n"
                         "configs = {'default': Run(argv=['/x'])}\n",
        }.items():
            os.makedirs(os.path.join(mods, name), exist_ok=True)
            with open(os.path.join(mods, name, "module.py"), "w") as f:
                f.write(text)
        self.env["CAPSULE_MODULE_PATH"] = mods
        try:
            self.check(["run", "--module", "cyc-a"], "module dependency cycle: cyc-a -> cyc-b -> cyc-a")
            self.check(["run", "--module", "needs-ghost"], "module 'needs-ghost' requires 'ghost', which does not exist")
            self.check(["run", "--module", "bad-files"], "'/no/such/file' does not exist")
        finally:
            del self.env["CAPSULE_MODULE_PATH"]

    def test_unknown_config(self):
        self.check(["run", "--module", "hello:nope"], "has no run configuration 'nope'")

    def test_bad_image_dir(self):
        self.check(["run", "--image", os.path.join(self.d, "nothing")], "has no manifest.json")

    def test_bad_options(self):
        self.check(["run", "--cwd", "/no/such/dir", "/bin/busybox", "true"], "--cwd: '/no/such/dir' is not a directory")
        self.check(["run", "--env", "NOEQUALS", "/bin/busybox", "true"], "--env: 'NOEQUALS' is not K=V")
        self.check(["run", "--add", "/no/such/file", "/bin/busybox", "true"], "--add: '/no/such/file' does not exist")
        self.check(["run", "--rootfs", "/no/such/root", "/bin/sh"], "--rootfs: '/no/such/root' is not a directory")
        self.check(["run", "--mem", "lots", "/bin/busybox", "true"], "bad memory size 'lots'")
        self.check(["run", "--package-cap", "-1", "/bin/busybox", "true"], "--package-cap: -1 is negative")

    def test_bad_network_options(self):
        self.check(["run", "-p", "8080", "/bin/busybox", "true"], "bad -p '8080'")
        self.check(["run", "-p", "0:80", "/bin/busybox", "true"], "bad -p '0:80'")
        self.check(["run", "-p", "80:70000", "/bin/busybox", "true"], "bad -p '80:70000'")
        self.check(["run", "-p", "80:80/sctp", "/bin/busybox", "true"], "bad -p '80:80/sctp'")
        self.check(["run", "--net", "bridge", "/bin/busybox", "true"], "bad --net 'bridge'")
        self.check(["run", "--net", "tap:a b", "/bin/busybox", "true"], "bad --net 'tap:a b'")
        self.check(["run", "--net", "none", "-p", "80:80", "/bin/busybox", "true"], "-p needs a network")

    def test_bad_ipv6_options(self):
        """--ip6, --gw6, --dns (docs/net_device.md "Static IPv6"): refused before any VM."""
        bb = ["/bin/busybox", "true"]
        for value, message in [("fec0::9", "bad --ip6 'fec0::9' (ADDR/PREFIX"),
                               ("fec0::9/0", "bad --ip6 'fec0::9/0'"), ("fec0::9/129", "bad --ip6 'fec0::9/129'"),
                               ("fec0::9/x", "bad --ip6 'fec0::9/x'"), ("fec0:::9/64", "bad --ip6 'fec0:::9'"),
                               ("10.0.2.9/24", "bad --ip6 '10.0.2.9'"), ("ff02::1/64", "bad --ip6 'ff02::1' (a unicast"),
                               ("::/64", "bad --ip6 '::' (a unicast"), ("::1/128", "bad --ip6 '::1' (a unicast"),
                               ("::ffff:10.0.2.9/64", "bad --ip6 '::ffff:10.0.2.9' (a unicast")]:
            self.check(["run", "--ip6", value, *bb], message)
            self.check(["build", "--ip6", value, "-o", os.path.join(self.d, "img"), *bb], message)
        self.check(["run", "--gw6", "fe80::2", *bb], "--gw6 goes with --ip6")
        self.check(["run", "--ip6", "fec0::9/64", "--gw6", "ff02::2", *bb], "bad --gw6 'ff02::2'")
        self.check(["run", "--ip6", "fec0::9/64", "--gw6", "zz::2", *bb], "bad --gw6 'zz::2'")
        self.check(["run", "--dns", "1.2.3", *bb], "bad --dns '1.2.3'")
        self.check(["run", "--dns", "0.0.0.0", *bb], "bad --dns '0.0.0.0'")
        self.check(["run", "--dns", "fec0::3", "--dns", "fec0::4", *bb], "at most one IPv4 and one IPv6 server")
        self.check(["run", "--net", "none", "--ip6", "fec0::9/64", *bb], "need a network")
        self.check(["run", "--net", "tap:t0", "--dns", "1.1.1.1", *bb], "--dns with --net tap")
        self.assertFalse(os.path.exists(os.path.join(self.d, "img")))

    def test_bad_ipv4_options(self):
        """--ip, --gw (docs/net_device.md): refused before any VM."""
        bb = ["/bin/busybox", "true"]
        for value, message in [("10.0.7.2", "bad --ip '10.0.7.2' (ADDR/PREFIX"), ("10.0.7.2/33", "bad --ip '10.0.7.2/33'"),
                               ("10.0.7/24", "bad --ip '10.0.7'"), ("127.0.0.9/8", "bad --ip '127.0.0.9' (a unicast"),
                               ("fec0::9/64", "bad --ip 'fec0::9/64'"), ("fec0::9/24", "bad --ip 'fec0::9' (an IPv4")]:
            self.check(["run", "--ip", value, *bb], message)
            self.check(["build", "--ip", value, "-o", os.path.join(self.d, "img"), *bb], message)
        self.check(["run", "--gw", "10.0.7.1", *bb], "--gw goes with --ip")
        self.check(["run", "--ip", "10.0.7.2/24", "--gw", "10.0.8.1", *bb], "not on --ip's subnet")
        self.check(["run", "--net", "none", "--ip", "10.0.7.2/24", *bb], "need a network")
        self.assertFalse(os.path.exists(os.path.join(self.d, "img")))


if __name__ == "__main__":
    unittest.main()
