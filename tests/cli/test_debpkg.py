"""A program's Debian packages (debpkg.py, bundle.py): the dependency
closure on made-up package sets (alternatives, virtual packages, cycles,
packaging machinery), the file-list filter on a made-up dpkg info
directory, and on this host: the owner of a program however it is spelled,
the module a spelling resolves to, what a plan brings and why, the cap."""
import os
import shutil
import subprocess
import tempfile
import unittest

import common  # noqa: F401
from capsule_cli import bundle, debpkg, imagecache, modules


def status_line(name, pre="", dep="", provides="", status="ii "):
    return "\t".join([name, pre, dep, provides, status])


class Closure(unittest.TestCase):
    def db(self, *lines):
        return debpkg.Db(debpkg.parse_status("\n".join(lines) + "\n"), info="/nonexistent")

    def test_parse_status(self):
        pkgs = debpkg.parse_status("\n".join([
            status_line("app:amd64", "dpkg (>= 1.17)", "libc6 (>= 2.34), libx | liby:any (<< 2), zz",
                        "app-virtual (= 1), other"),
            status_line("gone", status="rc "),   # removed, config files left: not installed
            "garbage line",
        ]))
        self.assertEqual(sorted(pkgs), ["app"])
        self.assertEqual(pkgs["app"].depends, [["dpkg"], ["libc6"], ["libx", "liby"], ["zz"]])
        self.assertEqual(pkgs["app"].provides, ["app-virtual", "other"])

    def test_alternatives_virtual_cycle_machinery(self):
        db = self.db(
            status_line("app", "dpkg", "libc6, missing-pkg | libb, java-runtime, debconf | debconf-2.0"),
            status_line("libc6", "", "libgcc-s1"),
            status_line("libgcc-s1", "", "libc6"),     # a cycle: each once
            status_line("libb", "", ""),
            status_line("jre", "", "app", "java-runtime"),
            status_line("dpkg", "", "tar"),
            status_line("tar"),
            status_line("debconf", "", "perl-base"),
            status_line("perl-base"),
        )
        got = db.closure([("app", "owns /usr/bin/app")])
        names = [n for n, _ in got]
        # Breadth-first; the installed alternative; a virtual name by its
        # provider; machinery (dpkg, debconf) and what only it needs left out.
        self.assertEqual(names, ["app", "libc6", "libb", "jre", "libgcc-s1"])
        self.assertEqual(dict(got)["jre"], "dependency of app")
        self.assertEqual(dict(got)["app"], "owns /usr/bin/app")
        # An unsatisfiable group (nothing installed, no provider) is skipped.
        self.assertIsNone(db.choose(["nothing", "none"]))
        # A root that is not installed gives nothing.
        self.assertEqual(db.closure([("ghost", "x")]), [])

    def test_file_list_filter(self):
        d = tempfile.mkdtemp()
        try:
            info = os.path.join(d, "info")
            os.makedirs(info)
            root = os.path.join(d, "root")
            keep = ["usr/bin/app", "usr/share/app/data", "usr/share/locale/locale.alias",
                    "usr/share/zoneinfo/UTC"]
            drop = ["usr/share/doc/app/copyright", "usr/share/man/man1/app.1.gz",
                    "usr/share/info/app.info", "usr/share/locale/de/LC_MESSAGES/app.mo",
                    "usr/share/lintian/overrides/app"]
            for rel in keep + drop:
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                with open(os.path.join(root, rel), "w") as f:
                    f.write("x")
            os.symlink("/nowhere", os.path.join(root, "usr/bin/dangling"))
            lines = ["/.", root, root + "/usr", root + "/usr/bin"]
            lines += [os.path.join(root, r) for r in keep + drop + ["usr/bin/dangling", "usr/bin/vanished"]]
            with open(os.path.join(info, "app:amd64.list"), "w") as f:
                f.write("\n".join(lines) + "\n")
            db = debpkg.Db({}, info=info)
            got = db.files("app")
            # Files and symlinks (a dangling one too) stay; directories,
            # documentation, message catalogs and vanished paths do not.
            self.assertEqual(sorted(got), sorted([os.path.join(root, r) for r in keep + ["usr/bin/dangling"]]))
            self.assertIsNone(db.files("not-installed"))
        finally:
            shutil.rmtree(d)

    def test_memo_forgets_when_dpkg_changes(self):
        d = tempfile.mkdtemp()
        try:
            status = os.path.join(d, "status")
            with open(status, "w") as f:
                f.write("Package: a\n")
            memo_path = os.path.join(d, "cache", "packages.json")
            m = debpkg.Memo(memo_path, debpkg.db_state(status))
            self.assertIsNone(m.get("/usr/bin/x"))
            m.put("/usr/bin/x", [["x", "owns /usr/bin/x"]])
            again = debpkg.Memo(memo_path, debpkg.db_state(status))
            self.assertEqual(again.get("/usr/bin/x"), [["x", "owns /usr/bin/x"]])
            # A package installed or removed rewrites the status file: the
            # memo is void and the closure is computed again.
            with open(status, "a") as f:
                f.write("\nPackage: b\n")
            self.assertIsNone(debpkg.Memo(memo_path, debpkg.db_state(status)).get("/usr/bin/x"))
            # No dpkg database: nothing is remembered.
            none = debpkg.Memo(memo_path, debpkg.db_state(os.path.join(d, "missing")))
            none.put("k", [])
            self.assertIsNone(none.get("k"))
            # A corrupt memo file is ignored.
            with open(memo_path, "w") as f:
                f.write("{not json")
            self.assertIsNone(debpkg.Memo(memo_path, debpkg.db_state(status)).get("/usr/bin/x"))
        finally:
            shutil.rmtree(d)

    def test_path_aliases(self):
        self.assertEqual(debpkg.path_aliases("/usr/bin/ls"), ["/usr/bin/ls", "/bin/ls"])
        self.assertEqual(debpkg.path_aliases("/lib/x86_64-linux-gnu/libc.so.6"),
                         ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"])
        self.assertEqual(debpkg.path_aliases("/opt/x"), ["/opt/x"])


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", pkg], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return r.stdout.startswith("ii")


class Host(common.TempCacheTest):
    def test_owner_however_spelled(self):
        self.assertEqual(debpkg.owner("/usr/bin/ls"), "coreutils")   # listed as /bin/ls
        self.assertEqual(debpkg.owner(os.path.realpath("/bin/sh")), "dash")
        self.assertIsNone(debpkg.owner("/nonexistent/program"))

    @unittest.skipUnless(os.path.exists("/usr/bin/python3.11"), "needs Debian's python3.11")
    def test_spellings_of_python_take_the_module(self):
        self.assertEqual(modules.module_for("/usr/bin/python3.11"), "python3")
        self.assertEqual(modules.module_for("/usr/bin/python3"), "python3")
        self.assertIsNone(modules.module_for("/usr/bin/ls"))
        old_path = os.environ["PATH"]
        os.environ["PATH"] = bundle.DEFAULT_ENV["PATH"]   # not a pyenv's python3.11
        try:
            plans = {s: bundle.make_plan(s, ["-c", "print(1)"])
                     for s in ("/usr/bin/python3", "/usr/bin/python3.11", "python3.11", "/bin/python3")}
        finally:
            os.environ["PATH"] = old_path
        for spelling, plan in plans.items():
            self.assertIsNotNone(plan.tree.real_path("/usr/lib/python3.11/encodings/__init__.py"), spelling)
            self.assertEqual(plan.argv[1:], ["-c", "print(1)"])
            self.assertIsNotNone(plan.tree.real_path(plan.argv[0]), spelling)
            self.assertEqual(plan.tree.real_path(plan.argv[0]), "/usr/bin/python3.11", spelling)
            if spelling.startswith("/"):
                self.assertEqual(plan.argv[0], spelling)   # the name given, as on the host

    @unittest.skipUnless(installed("perl") and installed("perl-modules-5.36"), "needs Debian's perl")
    def test_perl_brings_its_modules_and_says_why(self):
        b = bundle.ImageBuilder(verbose=True)
        import contextlib
        import io
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            b.add_program("/usr/bin/perl")
            b.add_program_packages("/usr/bin/perl", "perl")
        self.assertIn("perl-base", b.packages)
        self.assertIn("perl-modules-5.36", b.packages)
        self.assertIn("libc6", b.packages)
        self.assertIsNotNone(b.tree.real_path("/usr/share/perl/5.36/JSON/PP.pm"))
        self.assertFalse([p for p in b.tree.nodes if p.startswith("/usr/share/doc/")])
        self.assertFalse([p for p in b.tree.nodes if p.startswith("/usr/share/man/")])
        text = err.getvalue()
        self.assertIn("package perl-base (owns /usr/bin/perl)", text)
        self.assertIn("package perl (named like the program perl)", text)
        self.assertRegex(text, r"package libc6 \(dependency of [\w.-]+\)")

    @unittest.skipUnless(installed("openssl"), "needs openssl")
    def test_cap_leaves_out_and_says_so(self):
        import contextlib
        import io
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            plan = bundle.make_plan("/usr/bin/openssl", [], package_cap=1)   # 1 byte: nothing fits
        self.assertIn("left out packages past the 0 MiB package cap", err.getvalue())
        self.assertIn("openssl (", err.getvalue())
        # The program and its libraries still come (elfdeps).
        self.assertIsNotNone(plan.tree.real_path("/usr/bin/openssl"))
        self.assertIsNotNone(plan.tree.real_path("/usr/lib/x86_64-linux-gnu/libssl.so.3"))
        none = bundle.make_plan("/usr/bin/openssl", [], package_cap=0)
        full = bundle.make_plan("/usr/bin/openssl", [])
        self.assertIsNone(none.tree.real_path("/usr/lib/ssl/misc/CA.pl"))
        self.assertIsNotNone(full.tree.real_path("/usr/lib/ssl/misc/CA.pl"))
        self.assertGreater(len(full.tree.nodes), len(none.tree.nodes))
        # The image cache keys on what the packages bring: a different
        # package set is a different image.
        memo = imagecache.HashMemo(os.path.join(self.d, "h.json"))
        self.assertNotEqual(imagecache.tree_key(none.tree, memo), imagecache.tree_key(full.tree, memo))

    def test_host_data(self):
        b = bundle.ImageBuilder()
        b.add_program("/usr/bin/openssl")
        b.add_host_data({"TZ": "Europe/Paris", "TERM": "xterm"})
        for path in ("/etc/os-release", "/etc/localtime", "/usr/share/zoneinfo/Europe/Paris"):
            if os.path.exists(path):
                self.assertIsNotNone(b.tree.real_path(path), path)
        if os.path.exists("/etc/ssl/certs/ca-certificates.crt"):   # libssl is in the image
            self.assertIsNotNone(b.tree.real_path("/etc/ssl/certs/ca-certificates.crt"))
        term = [p for p in b.tree.nodes if p.endswith("/terminfo/x/xterm")]
        self.assertTrue(term or not any(os.path.exists(f"{d}/x/xterm") for d in
                                        ("/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo")))
        # Bad values add nothing rather than fail.
        b.add_host_data({"TZ": "../../../etc/shadow", "TERM": "../x"})
        self.assertNotIn("/etc/shadow", b.tree.nodes)


if __name__ == "__main__":
    unittest.main()
