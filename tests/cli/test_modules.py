"""Module resolution (capsule_cli/modules.py): topological order, diamond,
cycle naming the cycle, missing dependency, unknown module; loading
module.py files; the bundled modules are well-formed."""
import os
import shutil
import tempfile
import unittest

import common  # noqa: F401
from capsule_cli import modules


def graph(**reqs):
    table = {n: modules.Module(n, None, r) for n, r in reqs.items()}
    return table.get


class Resolution(unittest.TestCase):
    def names(self, wanted, loader):
        return [m.name for m in modules.resolve(wanted, loader)]

    def test_chain_in_dependency_order(self):
        order = self.names(["app"], graph(app=["lib"], lib=["base"], base=[]))
        self.assertEqual(order, ["base", "lib", "app"])

    def test_diamond_once_each(self):
        order = self.names(["top"], graph(top=["left", "right"], left=["base"], right=["base"], base=[]))
        self.assertEqual(sorted(order), ["base", "left", "right", "top"])
        self.assertEqual(len(order), 4)
        pos = {n: i for i, n in enumerate(order)}
        self.assertLess(pos["base"], pos["left"])
        self.assertLess(pos["base"], pos["right"])
        self.assertLess(pos["left"], pos["top"])
        self.assertLess(pos["right"], pos["top"])

    def test_several_roots_share(self):
        order = self.names(["a", "b"], graph(a=["c"], b=["c"], c=[]))
        self.assertEqual(order, ["c", "a", "b"])

    def test_cycle_is_named(self):
        with self.assertRaises(modules.ModuleError) as cm:
            self.names(["app"], graph(app=["x"], x=["y"], y=["z"], z=["x"]))
        self.assertEqual(str(cm.exception), "module dependency cycle: x -> y -> z -> x")

    def test_self_cycle(self):
        with self.assertRaisesRegex(modules.ModuleError, "cycle: a -> a"):
            self.names(["a"], graph(a=["a"]))

    def test_missing_dependency_names_who_needs_it(self):
        with self.assertRaises(modules.ModuleError) as cm:
            self.names(["app"], graph(app=["lib"], lib=["ghost"]))
        self.assertEqual(str(cm.exception), "module 'lib' requires 'ghost', which does not exist")

    def test_unknown_module(self):
        with self.assertRaisesRegex(modules.ModuleError, "unknown module 'nope'"):
            self.names(["nope"], graph(a=[]))

    def test_spec(self):
        self.assertEqual(modules.parse_spec("python3:repl"), ("python3", "repl"))
        self.assertEqual(modules.parse_spec("python3"), ("python3", None))


class Loading(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.d)

    def write(self, name, text):
        os.makedirs(os.path.join(self.d, name))
        with open(os.path.join(self.d, name, "module.py"), "w") as f:
            f.write(text)

    def test_module_py(self):
        self.write("base", "configs = {}\n")
        self.write("app", "requires = ['base']\nconfigs = {'x': Run(argv=['/x'], env={'A': '1'}), "
                          "'y': Run(argv=['/y'])}\ndefault = 'y'\n")
        load = lambda n: modules.load(n, [self.d])  # noqa: E731
        order = modules.resolve(["app"], load)
        self.assertEqual([m.name for m in order], ["base", "app"])
        app = order[1]
        self.assertEqual(app.config().argv, ["/y"])
        self.assertEqual(app.config("x").env, {"A": "1"})
        with self.assertRaisesRegex(modules.ModuleError, "no run configuration 'z' \\(has: x, y\\)"):
            app.config("z")
        self.assertEqual(modules.available([self.d]), ["app", "base"])

    def test_broken_module_py_is_named(self):
        self.write("bad", "requires = [\n")
        with self.assertRaisesRegex(modules.ModuleError, "module 'bad' .*SyntaxError"):
            modules.load("bad", [self.d])

    def test_bad_run(self):
        self.write("bad", "configs = {'default': Run(argv=[])}\n")
        with self.assertRaisesRegex(modules.ModuleError, "non-empty argv"):
            modules.load("bad", [self.d])

    def test_names_cannot_escape(self):
        self.assertIsNone(modules.load("../etc", [self.d]))
        self.assertIsNone(modules.load("", [self.d]))


class Bundled(unittest.TestCase):
    def test_bundled_modules_load(self):
        names = modules.available([modules.MODULES_DIR])
        for n in ["hello", "busybox", "python3", "sqlite3", "lua", "redis", "nginx", "memcached"]:
            self.assertIn(n, names)
        order = modules.resolve(names, lambda n: modules.load(n, [modules.MODULES_DIR]))
        for m in order:
            self.assertTrue(callable(m.files), m.name)
            self.assertTrue(m.config().argv[0].startswith("/"), m.name)


if __name__ == "__main__":
    unittest.main()
