"""Images (imagetree.py, imagecache.py, cpio.py, bundle.py): what is in the
archive, checked by unpacking it with the host's cpio(1); the cache; the
files a dynamic program and a module bring along."""
import os
import re
import shutil
import stat
import subprocess
import unittest

import common  # noqa: F401
from capsule_cli import bundle, elfdeps, imagecache, imagetree


class Base(common.TempCacheTest):
    def unpack(self, image):
        out = os.path.join(self.d, "unpacked")
        os.makedirs(out)
        with open(image, "rb") as f:
            subprocess.run(["cpio", "-idm", "--quiet", "--no-absolute-filenames"], stdin=f, cwd=out, check=True)
        return out


@unittest.skipUnless(shutil.which("cpio"), "needs the cpio tool")
class TreeSurvives(Base):
    def make_tree(self):
        src = os.path.join(self.d, "src")
        os.makedirs(os.path.join(src, "empty"))
        os.makedirs(os.path.join(src, "private"))
        os.chmod(os.path.join(src, "private"), 0o750)
        with open(os.path.join(src, "tool"), "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(os.path.join(src, "tool"), 0o4755)
        with open(os.path.join(src, "private", "secret"), "w") as f:
            f.write("s3cret\n")
        os.chmod(os.path.join(src, "private", "secret"), 0o600)
        os.link(os.path.join(src, "tool"), os.path.join(src, "tool-hardlink"))
        os.symlink("private/secret", os.path.join(src, "rel-link"))
        os.symlink("/absolute/nowhere", os.path.join(src, "dangling"))
        os.symlink("private", os.path.join(src, "dir-link"))
        os.utime(os.path.join(src, "private", "secret"), (1500000000, 1500000000))
        return src

    def test_modes_symlinks_empty_dirs_hardlinks_mtimes(self):
        src = self.make_tree()
        t = imagetree.Tree()
        t.add_host(src, "/app")
        out = self.unpack(imagecache.image_for(t))
        app = os.path.join(out, "app")
        self.assertTrue(os.path.isdir(os.path.join(app, "empty")))
        self.assertEqual(os.listdir(os.path.join(app, "empty")), [])
        self.assertEqual(stat.S_IMODE(os.lstat(os.path.join(app, "private")).st_mode), 0o750)
        self.assertEqual(stat.S_IMODE(os.lstat(os.path.join(app, "private", "secret")).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.lstat(os.path.join(app, "tool")).st_mode), 0o4755)
        self.assertEqual(os.readlink(os.path.join(app, "rel-link")), "private/secret")
        self.assertEqual(os.readlink(os.path.join(app, "dangling")), "/absolute/nowhere")
        self.assertEqual(os.readlink(os.path.join(app, "dir-link")), "private")
        with open(os.path.join(app, "rel-link")) as f:
            self.assertEqual(f.read(), "s3cret\n")
        self.assertEqual(os.stat(os.path.join(app, "tool")).st_ino,
                         os.stat(os.path.join(app, "tool-hardlink")).st_ino)
        with open(os.path.join(app, "tool-hardlink")) as f:
            self.assertEqual(f.read(), "#!/bin/sh\n")
        self.assertEqual(int(os.lstat(os.path.join(app, "private", "secret")).st_mtime), 1500000000)

    def test_host_symlinks_on_the_way_are_recreated(self):
        src = self.make_tree()
        t = imagetree.Tree()
        # src/dir-link -> private: the guest gets the link and the real file.
        t.add_host_path(os.path.join(src, "dir-link", "secret"))
        self.assertEqual(t.nodes[os.path.join(src, "dir-link")].kind, "link")
        self.assertEqual(t.nodes[os.path.join(src, "private", "secret")].kind, "file")
        self.assertEqual(t.real_path(os.path.join(src, "dir-link", "secret")),
                         os.path.join(src, "private", "secret"))

    def test_generated_files_and_streaming(self):
        t = imagetree.Tree()
        big = os.path.join(self.d, "big")
        with open(big, "wb") as f:
            f.write(os.urandom(3 << 20) + b"tail")
        t.add_host(big, "/data/big")
        t.add_bytes("/etc/x.conf", "x = 1\n", 0o640)
        out = self.unpack(imagecache.image_for(t))
        with open(os.path.join(out, "data", "big"), "rb") as a, open(big, "rb") as b:
            self.assertEqual(a.read(), b.read())
        with open(os.path.join(out, "etc", "x.conf")) as f:
            self.assertEqual(f.read(), "x = 1\n")
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(out, "etc", "x.conf")).st_mode), 0o640)


def _debugfs(image, request):
    tool = shutil.which("debugfs") or "/usr/sbin/debugfs"
    return subprocess.run([tool, "-R", request, image], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, check=True).stdout


@unittest.skipUnless(shutil.which("mke2fs") or os.path.exists("/usr/sbin/mke2fs"), "needs e2fsprogs")
class RootDisk(Base):
    """A large image's root disk (rootdisk.py): what the cpio carries, read
    back from the ext4 image with Debian's debugfs; cached like the cpio."""
    make_tree = TreeSurvives.make_tree

    def stat(self, image, path):
        out = _debugfs(image, f'stat "{path}"')
        m = re.search(r"Mode:\s+(\d+).*?User:\s+(\d+)\s+Group:\s+(\d+).*?Links: (\d+)", out, re.S)
        ino = re.search(r"Inode: (\d+)", out)
        return (int(m.group(1), 8), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(ino.group(1))) if m else None

    def test_root_disk_keeps_what_the_cpio_keeps(self):
        from capsule_cli import rootdisk
        src = self.make_tree()
        t = imagetree.Tree()
        t.add_host(src, "/app")
        t.add_bytes("/etc/x.conf", "x = 1\n", 0o640)
        before = imagecache.PACKS
        disk = imagecache.image_for(t, kind="ext4")
        self.assertTrue(disk.endswith(".ext4"))
        self.assertEqual(imagecache.image_for(t, kind="ext4"), disk)  # cached: one mkfs
        self.assertEqual(imagecache.PACKS, before + 1)
        self.assertNotEqual(imagecache.image_for(t), disk)  # the cpio is another image
        r = subprocess.run([shutil.which("e2fsck") or "/usr/sbin/e2fsck", "-fn", disk], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        self.assertNotIn("corrupt", r.stdout.lower())
        # Owners 0:0 and the modes exactly (setuid, 0600, 0750), whatever
        # the scratch copy's owner could keep.
        self.assertEqual(self.stat(disk, "/app/tool")[:3], (0o4755, 0, 0))
        self.assertEqual(self.stat(disk, "/app/private")[:3], (0o750, 0, 0))
        self.assertEqual(self.stat(disk, "/app/private/secret")[:3], (0o600, 0, 0))
        self.assertEqual(self.stat(disk, "/etc/x.conf")[:3], (0o640, 0, 0))
        # Hard links stay one inode; symlinks keep their targets.
        self.assertEqual(self.stat(disk, "/app/tool")[4], self.stat(disk, "/app/tool-hardlink")[4])
        self.assertEqual(self.stat(disk, "/app/tool")[3], 2)
        self.assertIn('Fast link dest: "/absolute/nowhere"', _debugfs(disk, 'stat "/app/dangling"'))
        self.assertEqual(_debugfs(disk, 'cat "/app/private/secret"'), "s3cret\n")
        # mke2fs's lost+found is not a file of the image.
        self.assertNotIn("lost+found", _debugfs(disk, "ls -l /"))
        self.assertTrue(rootdisk.use_disk("disk", t))
        self.assertFalse(rootdisk.use_disk("auto", t))  # a few bytes: an initrd
        self.assertFalse(rootdisk.use_disk("initrd", t))


class Cache(Base):
    def test_second_build_does_not_repack(self):
        f = os.path.join(self.d, "file")
        with open(f, "w") as fh:
            fh.write("one")
        def tree():
            t = imagetree.Tree()
            t.add_host(f, "/file")
            return t
        before = imagecache.PACKS
        a = imagecache.image_for(tree())
        self.assertEqual(imagecache.PACKS, before + 1)
        b = imagecache.image_for(tree())
        self.assertEqual(a, b)
        self.assertEqual(imagecache.PACKS, before + 1)  # a hit: nothing packed
        st = os.stat(f)
        with open(f, "w") as fh:
            fh.write("two")  # same size; keep the mtime: only the content differs
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
        c = imagecache.image_for(tree())
        self.assertNotEqual(a, c)
        self.assertEqual(imagecache.PACKS, before + 2)

    def test_verbose_says_hit_and_miss(self):
        t = imagetree.Tree()
        t.add_bytes("/x", "x")
        r = subprocess.run(["python3", "-c", (
            "import sys; sys.path.insert(0, %r)\n"
            "from capsule_cli import imagetree, imagecache\n"
            "t = imagetree.Tree(); t.add_bytes('/x', 'cache-test')\n"
            "imagecache.image_for(t, verbose=True); imagecache.image_for(t, verbose=True)\n"
        ) % os.path.join(common.ROOT, "tools", "capsule")], stderr=subprocess.PIPE, text=True, check=True)
        self.assertRegex(r.stderr, r"image cache miss [0-9a-f]+: packed .*\n.*image cache hit")


class Programs(Base):
    def test_dynamic_program_brings_loader_and_libraries(self):
        plan = bundle.make_plan("ls", ["-l"])
        self.assertEqual(plan.argv, [os.path.realpath(shutil.which("ls")), "-l"])
        t = plan.tree
        r = elfdeps.resolve(os.path.realpath(shutil.which("ls")))
        for p in r.paths():
            real = t.real_path(p)
            self.assertIsNotNone(real, p)
            self.assertEqual(t.nodes[real].kind, "file", p)
            self.assertEqual(os.path.realpath(t.nodes[real].host), os.path.realpath(p))
        for p in ["/etc/passwd", "/etc/group", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ld.so.cache"]:
            self.assertIn(p, t.nodes)
        self.assertEqual(t.nodes["/tmp"].mode, 0o1777)

    def test_env_and_cwd_words(self):
        plan = bundle.make_plan("/bin/busybox", ["true"], envs=["A=b c", "PATH=/x"], cwd="/tmp")
        self.assertEqual(plan.env["A"], "b c")
        self.assertEqual(plan.env["PATH"], "/x")
        self.assertEqual(plan.env["HOME"], "/root")
        self.assertIn("--cwd=/tmp", plan.kernel_words())

    def test_rootfs(self):
        root = os.path.join(self.d, "root")
        os.makedirs(os.path.join(root, "bin"))
        os.makedirs(os.path.join(root, "var", "empty"))
        shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
        os.symlink("busybox", os.path.join(root, "bin", "sh"))
        plan = bundle.make_plan("/bin/sh", ["-c", "true"], rootfs=root)
        # The name as given: the kernel follows the symlink, and busybox
        # needs argv[0] to say which applet it is.
        self.assertEqual(plan.argv, ["/bin/sh", "-c", "true"])
        self.assertIn("/var/empty", plan.tree.nodes)
        self.assertNotIn("/etc/passwd", plan.tree.nodes)  # the root is the user's, as it is
        with self.assertRaisesRegex(bundle.BadInput, "does not exist in"):
            bundle.make_plan("/bin/nothing", [], rootfs=root)

    def test_add_follows_a_named_symlink(self):
        target = os.path.join(self.d, "conf")
        with open(target, "w") as f:
            f.write("c")
        link = os.path.join(self.d, "conf-link")
        os.symlink("conf", link)
        plan = bundle.make_plan("/bin/busybox", [], adds=[f"{link}:/etc/app.conf"])
        node = plan.tree.nodes["/etc/app.conf"]
        self.assertEqual((node.kind, node.host), ("file", target))
        os.symlink("nowhere", os.path.join(self.d, "dangling"))
        with self.assertRaisesRegex(bundle.BadInput, "dangling symlink"):
            bundle.make_plan("/bin/busybox", [], adds=[os.path.join(self.d, "dangling") + ":/x"])

    def test_auto_memory(self):
        self.assertEqual(bundle.auto_mem_mib(0), 128)
        self.assertEqual(bundle.auto_mem_mib(1), 160)
        self.assertEqual(bundle.auto_mem_mib(100 << 20), 352)

    @unittest.skipUnless(os.path.exists("/usr/lib/python3.11/os.py"), "needs Debian's python3.11")
    def test_python3_module(self):
        plan = bundle.make_plan(None, [], ["python3"])
        t = plan.tree
        self.assertEqual(plan.argv[0], "/usr/bin/python3")
        self.assertIsNotNone(t.real_path("/usr/lib/python3.11/os.py"))
        # `capsule run python3 ARGS` takes the bundled module of that name and
        # its program, on the guest's PATH, whatever python3 the host's PATH has.
        auto = bundle.make_plan("python3", ["-c", "print(1)"])
        self.assertEqual(auto.argv, ["/usr/bin/python3", "-c", "print(1)"])
        self.assertIsNotNone(auto.tree.real_path("/usr/lib/python3.11/os.py"))
        dyn = [p for p in t.nodes if re.search(r"/lib-dynload/_ctypes\..*\.so$", p)]
        self.assertTrue(dyn)
        # What the extension modules load comes along (libffi for _ctypes).
        needed = elfdeps.resolve(dyn[0]).libs
        for name, path in needed.items():
            self.assertIsNotNone(t.real_path(path), name)


if __name__ == "__main__":
    unittest.main()
