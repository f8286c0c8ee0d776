"""The QEMU arguments and kernel words for --share (tools/capsule/
capsule_cli/qemu.py, docs/9p.md, docs/virtiofs.md): one virtio-9p device
per share on each machine, read-only exports, the host path escaped for
QEMU; over virtio-fs one vhost-user-fs device and one virtiofsd per share
with guest RAM a shared memfd, a daemon that fails named with its own
words, daemons stopped; bad specs refused with a reason."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "capsule"))
from capsule_cli import qemu  # noqa: E402


class ShareArgs(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.comma = os.path.join(self.d, "a,b")
        os.makedirs(self.comma)

    def tearDown(self):
        shutil.rmtree(self.d)

    def test_microvm(self):
        args, words = qemu.share_args("microvm", [f"{self.d}:/mnt/data", f"{self.comma}:/srv/x/:ro"])
        self.assertEqual(args[0:2], ["-fsdev", f"local,id=capsule-fs0,path={self.d},security_model=none"])
        self.assertIn("virtio-9p-device,fsdev=capsule-fs0,mount_tag=capsule0", args)
        self.assertIn("virtio-mmio.force-legacy=false", args)
        # QEMU's option syntax doubles a comma inside a value.
        self.assertIn(f"local,id=capsule-fs1,path={self.d}/a,,b,security_model=none,readonly=on", args)
        self.assertEqual(words, ["--share=capsule0:/mnt/data", "--share=capsule1:/srv/x:ro"])

    def test_q35(self):
        args, _ = qemu.share_args("q35", [f"{self.d}:/mnt/data"])
        self.assertIn("virtio-9p-pci,fsdev=capsule-fs0,mount_tag=capsule0,disable-legacy=on", args)

    def test_command_carries_them(self):
        cmd = qemu.command("k.elf", accel="tcg", shares=[f"{self.d}:/mnt/data:ro"], cmdline="-- /prog")
        self.assertIn("virtio-9p-device,fsdev=capsule-fs0,mount_tag=capsule0", cmd)
        append = cmd[cmd.index("-append") + 1]
        # Kernel options before the program's " -- ".
        self.assertLess(append.index("--share=capsule0:/mnt/data:ro"), append.index("-- /prog"))
        self.assertNotIn("-fsdev", qemu.command("k.elf", accel="tcg"))

    def test_virtiofs_microvm(self):
        args, words = qemu.share_args("microvm", [f"{self.d}:/mnt/data", f"{self.d}:/srv/x:ro"],
                                      via="virtiofs", sock_dir="/run/w")
        self.assertIn("socket,id=capsule-vfs0,path=/run/w/vfs0.sock", args)
        self.assertIn("vhost-user-fs-device,chardev=capsule-vfs1,tag=capsule1", args)
        self.assertIn("virtio-mmio.force-legacy=false", args)
        self.assertNotIn("-fsdev", args)
        self.assertEqual(words, ["--virtiofs=capsule0:/mnt/data", "--virtiofs=capsule1:/srv/x:ro"])

    def test_virtiofs_q35_and_memory(self):
        cmd = qemu.command("k.elf", machine="q35", accel="tcg", mem="256M", shares=[f"{self.d}:/mnt/data"],
                           share_via="virtiofs", share_dir="/run/w")
        self.assertIn("vhost-user-fs-pci,chardev=capsule-vfs0,tag=capsule0", cmd)
        # vhost-user: guest RAM is a shared memfd of the VM's size.
        self.assertIn("memory-backend-memfd,id=capsule-mem,size=256M,share=on", cmd)
        self.assertIn("memory-backend=capsule-mem", cmd)
        self.assertIn("--virtiofs=capsule0:/mnt/data", cmd[cmd.index("-append") + 1])
        self.assertNotIn("memory-backend=capsule-mem", qemu.command("k.elf", accel="tcg", share_via="virtiofs"))

    def test_virtiofsd_commands(self):
        (argv, sock), = qemu.virtiofsd_commands([f"{self.d}:/mnt/data:ro"], "/run/w", daemon="/x/virtiofsd")
        self.assertEqual(sock, "/run/w/vfs0.sock")
        self.assertEqual(argv[:4], ["/x/virtiofsd", "--socket-path=/run/w/vfs0.sock", "-o", f"source={self.d}"])
        self.assertIn("cache=none", argv)

    def test_share_via(self):
        self.assertEqual(qemu.share_via("9p"), "9p")
        self.assertIn(qemu.share_via("auto"), ("9p", "virtiofs"))
        with self.assertRaises(ValueError):
            qemu.share_via("nfs")

    def test_daemon_that_exits_says_why(self):
        from capsule_cli import virtiofs
        sock = os.path.join(self.d, "s.sock")
        d = virtiofs.Daemons([(["/bin/sh", "-c", "echo 'unshare: Operation not permitted' >&2; exit 1"], sock)],
                             self.d)
        with self.assertRaises(virtiofs.DaemonError) as e:
            d.start()
        self.assertIn("exited with status 1", str(e.exception))
        self.assertIn("Operation not permitted", str(e.exception))
        self.assertIsInstance(e.exception, OSError)  # the CLI's status 2 path
        d.stop()

    def test_daemons_stopped(self):
        from capsule_cli import virtiofs
        sock = os.path.join(self.d, "s.sock")
        d = virtiofs.Daemons([(["/bin/sh", "-c", f"touch {sock}; exec sleep 30"], sock)], self.d)
        d.start()
        p = d.procs[0]
        self.assertIsNone(p.poll())
        d.stop()
        self.assertIsNotNone(p.poll())

    def test_bad(self):
        for spec, reason in ((f"{self.d}/missing:/mnt", "does not exist"),
                             (f"{self.d}:mnt", "absolute path"),
                             (f"{self.d}:/", "absolute path"),
                             (f"{self.d}:/a b", "no spaces"),
                             (f"{self.d}:/mnt/../etc", "may not contain"),
                             (f"{self.d}:/mnt/./x", "may not contain"),
                             (self.d, "bad --share"),
                             (":/mnt", "bad --share")):
            with self.assertRaises(ValueError) as e:
                qemu.share_args("microvm", [spec])
            self.assertIn(reason, str(e.exception), spec)


if __name__ == "__main__":
    unittest.main()
