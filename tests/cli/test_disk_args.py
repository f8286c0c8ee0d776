"""--disk's QEMU arguments and kernel words (tools/capsule/capsule_cli/
qemu.py disk_args, docs/block.md): raw or qcow2 by the file's magic, a
serial per disk, read-only, the mount point, the bus (virtio-blk or NVMe);
bad specs refused."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "capsule"))
from capsule_cli import qemu  # noqa: E402


class DiskArgs(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.raw = os.path.join(self.d, "a.img")
        with open(self.raw, "wb") as f:
            f.write(b"\0" * 4096)
        self.qcow = os.path.join(self.d, "b.qcow2")
        with open(self.qcow, "wb") as f:
            f.write(b"QFI\xfb" + b"\0" * 4092)

    def tearDown(self):
        shutil.rmtree(self.d)

    def test_microvm(self):
        args, words = qemu.disk_args("microvm", [self.raw + ":/data:ro", self.qcow])
        self.assertEqual(words, ["--disk=capsule0:/data:ro", "--disk=capsule1"])
        self.assertIn(f"file={self.raw},if=none,id=capsule-disk0,format=raw,cache=unsafe,readonly=on", args)
        # A writable disk passes discards on to the image (holes); a
        # read-only one does not.
        self.assertIn(f"file={self.qcow},if=none,id=capsule-disk1,format=qcow2,cache=unsafe,"
                      "discard=unmap,detect-zeroes=unmap", args)
        self.assertIn("virtio-blk-device,drive=capsule-disk0,serial=capsule0,num-queues=1", args)
        self.assertIn("virtio-mmio.force-legacy=false", args)

    def test_q35(self):
        args, words = qemu.disk_args("q35", [self.raw + ":/srv/www/"], cpus=4)
        self.assertEqual(words, ["--disk=capsule0:/srv/www"])
        # A request queue per CPU.
        self.assertIn("virtio-blk-pci,drive=capsule-disk0,serial=capsule0,num-queues=4,disable-legacy=on,romfile=",
                      args)

    def test_nvme(self):
        # The options after the file in any order; NVMe on q35 only.
        args, words = qemu.disk_args("q35", [self.raw + ":/data:ro:nvme", self.qcow + ":nvme:ro", self.raw])
        self.assertEqual(words, ["--disk=capsule0:/data:ro", "--disk=capsule1:ro", "--disk=capsule2"])
        self.assertIn("nvme,drive=capsule-disk0,serial=capsule0", args)
        self.assertIn("nvme,drive=capsule-disk1,serial=capsule1", args)
        self.assertIn(f"file={self.qcow},if=none,id=capsule-disk1,format=qcow2,cache=unsafe,readonly=on", args)
        self.assertIn("virtio-blk-pci,drive=capsule-disk2,serial=capsule2,num-queues=1,disable-legacy=on,romfile=",
                      args)
        self.assertEqual(qemu.parse_disk(self.raw + ":virtio"), (self.raw, None, False, "virtio"))
        with self.assertRaisesRegex(ValueError, "microvm has no PCI"):
            qemu.disk_args("microvm", [self.raw + ":nvme"])
        with self.assertRaises(ValueError):  # one bus at most: the second is taken as part of the file name
            qemu.disk_args("q35", [self.raw + ":nvme:nvme"])

    def test_command_carries_the_disks(self):
        cmd = qemu.command("k.elf", accel="tcg", cmdline="-- /prog", disks=[self.raw + ":/data"])
        self.assertIn("--disk=capsule0:/data -- /prog", cmd[cmd.index("-append") + 1])
        self.assertIn("-drive", cmd)
        self.assertNotIn("-drive", qemu.command("k.elf", accel="tcg"))

    def test_bad(self):
        for spec in ("", ":/data", os.path.join(self.d, "missing.img"), self.raw + ":/",
                     self.raw + ":/a b", self.raw + ":/a/../b"):
            with self.assertRaises(ValueError, msg=spec):
                qemu.disk_args("microvm", [spec])


if __name__ == "__main__":
    unittest.main()
