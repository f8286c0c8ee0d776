"""The QEMU arguments for the VM's network (tools/capsule/capsule_cli/qemu.py,
docs/net_device.md): user networking by default with -p forwards bound to
the host's 127.0.0.1, a tap device, none; bad specs refused."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "capsule"))
from capsule_cli import qemu  # noqa: E402


class NetArgs(unittest.TestCase):
    def test_user_microvm(self):
        a = qemu.net_args("microvm", "user", ["8080:80", "5353:53/udp", "2222:22/tcp"])
        self.assertEqual(a[0], "-netdev")
        self.assertEqual(a[1], "user,id=capsule-net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,"
                               "dhcpstart=10.0.2.15,hostfwd=tcp:127.0.0.1:8080-:80,"
                               "hostfwd=udp:127.0.0.1:5353-:53,hostfwd=tcp:127.0.0.1:2222-:22")
        self.assertIn("virtio-net-device,netdev=capsule-net0", a)
        self.assertIn("virtio-mmio.force-legacy=false", a)  # modern virtio-mmio only

    def test_user_q35(self):
        a = qemu.net_args("q35", "user")
        self.assertIn("virtio-net-pci,netdev=capsule-net0,disable-legacy=on,romfile=", a)

    def test_tap_and_none(self):
        a = qemu.net_args("microvm", "tap:tap7")
        self.assertEqual(a[1], "tap,id=capsule-net0,ifname=tap7,script=no,downscript=no")
        self.assertEqual(qemu.net_args("microvm", "none"), [])
        self.assertEqual(qemu.net_args("microvm", None), [])

    def test_tap_queue_pairs(self):
        """A multi-queue tap with several CPUs: a pair per CPU (at most 8),
        mq=on, and 2N + 2 MSI-X vectors on q35; anything else one queue."""
        a = qemu.net_args("q35", "tap:tap7", cpus=4, multi_queue=True)
        self.assertEqual(a[1], "tap,id=capsule-net0,ifname=tap7,script=no,downscript=no,queues=4")
        self.assertIn("virtio-net-pci,netdev=capsule-net0,disable-legacy=on,romfile=,mq=on,vectors=10", a)
        a = qemu.net_args("microvm", "tap:tap7", cpus=2, multi_queue=True)
        self.assertEqual(a[1], "tap,id=capsule-net0,ifname=tap7,script=no,downscript=no,queues=2")
        self.assertIn("virtio-net-device,netdev=capsule-net0,mq=on", a)
        self.assertIn("queues=8", qemu.net_args("microvm", "tap:tap7", cpus=64, multi_queue=True)[1])
        # A single-queue tap cannot be opened with queues=N.
        a = qemu.net_args("q35", "tap:tap7", cpus=4, multi_queue=False)
        self.assertEqual(a[1], "tap,id=capsule-net0,ifname=tap7,script=no,downscript=no")
        self.assertIn("virtio-net-pci,netdev=capsule-net0,disable-legacy=on,romfile=", a)
        # A multi-queue tap cannot be opened with one (QEMU: EINVAL): one CPU
        # takes two and a device without mq, which uses the first.
        a = qemu.net_args("q35", "tap:tap7", cpus=1, multi_queue=True)
        self.assertEqual(a[1], "tap,id=capsule-net0,ifname=tap7,script=no,downscript=no,queues=2")
        self.assertIn("virtio-net-pci,netdev=capsule-net0,disable-legacy=on,romfile=", a)
        # User networking has one queue whatever the CPUs.
        a = qemu.net_args("q35", "user", cpus=4, multi_queue=True)
        self.assertNotIn("queues=", a[1])
        self.assertIn("virtio-net-pci,netdev=capsule-net0,disable-legacy=on,romfile=", a)
        # A tap that does not exist (no tun_flags to read) is taken as single-queue.
        self.assertEqual(qemu.net_queue_pairs("tap:capnosuch0", 4), 1)

    def test_command_carries_the_nic(self):
        cmd = qemu.command("k.elf", accel="tcg", net="user", publish=["8000:8000"])
        self.assertIn("user,id=capsule-net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,dhcpstart=10.0.2.15,"
                      "hostfwd=tcp:127.0.0.1:8000-:8000", cmd)
        self.assertNotIn("-netdev", qemu.command("k.elf", accel="tcg"))  # tests' default: no NIC
        self.assertNotIn("--ip=", cmd[cmd.index("-append") + 1])  # DHCP unless asked

    def test_static_addresses_for_user_networking(self):
        """capsule run tells the kernel QEMU's addresses: no DHCP wait at boot."""
        cmd = qemu.command("k.elf", accel="tcg", net="user", net_static=True, cmdline="-- /prog")
        append = cmd[cmd.index("-append") + 1]
        self.assertIn("--ip=10.0.2.15/24 --gw=10.0.2.2 --dns=10.0.2.3 -- /prog", append)
        # The user's own --ip wins; a program's argument named --ip= does not count.
        cmd = qemu.command("k.elf", accel="tcg", net="user", net_static=True, cmdline="--ip=10.0.2.20/24 -- /p")
        self.assertNotIn("10.0.2.15", cmd[cmd.index("-append") + 1])
        cmd = qemu.command("k.elf", accel="tcg", net="user", net_static=True, cmdline="-- /p --ip=1.2.3.4/8")
        self.assertIn("--ip=10.0.2.15/24", cmd[cmd.index("-append") + 1])
        for net in ("none", "tap:tap0"):  # a tap's network has its own DHCP server, or none
            cmd = qemu.command("k.elf", accel="tcg", net=net, net_static=True)
            self.assertNotIn("--ip=", cmd[cmd.index("-append") + 1])

    def test_static_ipv6_words(self):
        """--ip6/--gw6/--dns become the kernel's words, addresses in RFC 5952's form."""
        self.assertEqual(qemu.static_net_words("user"), [])
        self.assertEqual(qemu.static_net_words("user", "FEC0:0:0::0099/64", "fe80::2", ["fec0::3", "8.8.8.8"]),
                         ["--ip6=fec0::99/64", "--gw6=fe80::2", "--dns=fec0::3", "--dns=8.8.8.8"])
        self.assertEqual(qemu.static_net_words("tap:t0", "2001:db8::5/48", None, ["2001:db8::53"]),
                         ["--ip6=2001:db8::5/48", "--dns=2001:db8::53"])
        for args in [("none", "fec0::9/64"), ("user", "fec0::9"), ("user", "fec0::9/0"), ("user", "ff02::1/8"),
                     ("user", None, "fe80::2"), ("user", "fec0::9/64", "::"), ("user", None, None, ["x"]),
                     ("tap:t0", None, None, ["fec0::3"]), ("tap:t0", None, None, ["1.1.1.1"])]:
            with self.assertRaises(ValueError, msg=args):
                qemu.static_net_words(*args)

    def test_static_ipv4_words(self):
        """--ip/--gw (docs/net_device.md): the kernel's --ip=/--gw= words; with
        --ip a tap takes an IPv4 --dns too."""
        self.assertEqual(qemu.static_net_words("tap:t0", ip="10.0.7.2/24", gw="10.0.7.1", dns=["10.0.7.1"]),
                         ["--ip=10.0.7.2/24", "--gw=10.0.7.1", "--dns=10.0.7.1"])
        self.assertEqual(qemu.static_net_words("user", ip="10.0.2.20/24"), ["--ip=10.0.2.20/24"])
        for kw in [dict(ip="10.0.7.2"), dict(ip="10.0.7.2/0"), dict(ip="10.0.7.2/33"), dict(ip="10.0.7/24"),
                   dict(ip="127.0.0.2/8"), dict(ip="224.0.0.1/4"), dict(ip="0.0.0.0/8"), dict(ip="fec0::9/64"),
                   dict(gw="10.0.7.1"), dict(ip="10.0.7.2/24", gw="10.0.8.1"), dict(ip="10.0.7.2/24", gw="x")]:
            with self.assertRaises(ValueError, msg=kw):
                qemu.static_net_words("tap:t0", **kw)
        with self.assertRaises(ValueError):
            qemu.static_net_words("none", ip="10.0.7.2/24")

    def test_bad(self):
        for spec in ("80", "80:", ":80", "0:80", "80:0", "65536:80", "80:80/icmp", "a:b", "80:80:80"):
            with self.assertRaises(ValueError, msg=spec):
                qemu.parse_publish(spec)
        for net in ("bridge", "tap:", "tap:" + "x" * 16, "tap:a;b", "user,hostfwd=x"):
            with self.assertRaises(ValueError, msg=net):
                qemu.net_args("microvm", net)
        with self.assertRaises(ValueError):
            qemu.net_args("microvm", "none", ["80:80"])
        with self.assertRaises(ValueError):
            qemu.net_args("microvm", "tap:tap0", ["80:80"])


if __name__ == "__main__":
    unittest.main()
