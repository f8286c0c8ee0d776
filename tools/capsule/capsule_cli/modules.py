"""Modules: bundled applications described by modules/NAME/module.py.

A module.py is plain Python run with these names already defined (no
import needed; docs/modules.md is the reference):

    requires = ["busybox"]            # other modules, put in the image first
    def files(m):                     # what goes into the image
        m.add_host("/etc/mime.types") # host path (file or whole directory)
        m.add_program("/usr/bin/lua5.4")  # an ELF with its libraries and loader
        m.add_package("lua5.4")       # every file of an installed Debian package
        m.add_text("/etc/app.conf", "x = 1\\n")
        m.add_symlink("/usr/bin/lua", "lua5.4")
        m.compile_c("hello.c", "/hello")  # a static program built from source
    packages = ["lua5.4"]             # Debian packages installed on first use
    configs = {"default": Run(argv=["/usr/bin/lua5.4", "-v"])}
    default = "default"               # optional when there is one config

Resolution (resolve) orders modules so that each comes after what it
requires (depth-first topological order); a cycle is an error naming the
cycle, a required module that does not exist is an error naming who needs it.
"""
import os
import subprocess

from . import build, deps

MODULES_DIR = os.path.join(build.ROOT, "modules")


class ModuleError(Exception):
    pass


class Run:
    """A run configuration: the program's argv (argv[0] is a guest path),
    extra environment, working directory, and VM memory/CPUs (None: auto)."""

    def __init__(self, argv, env=None, cwd=None, mem=None, cpus=None):
        if not argv or not isinstance(argv, (list, tuple)):
            raise ModuleError("Run(argv=[...]) needs a non-empty argv list")
        self.argv = list(argv)
        self.env = dict(env or {})
        self.cwd = cwd
        self.mem = mem
        self.cpus = cpus


class Module:
    def __init__(self, name, path, requires=(), files=None, configs=None, default=None, packages=()):
        self.name = name
        self.path = path  # module directory (None for modules made in tests)
        self.requires = list(requires)
        self.files = files
        self.configs = dict(configs or {})
        self.default = default or ("default" if "default" in self.configs else
                                   next(iter(self.configs), None))
        self.packages = list(packages)

    def config(self, name=None):
        name = name or self.default
        if name not in self.configs:
            have = ", ".join(sorted(self.configs)) or "none"
            raise ModuleError(f"module '{self.name}' has no run configuration '{name}' (has: {have})")
        return self.configs[name]


def search_path():
    extra = os.environ.get("CAPSULE_MODULE_PATH", "")
    return [d for d in extra.split(":") if d] + [MODULES_DIR]


def available(dirs=None):
    names = set()
    for d in dirs or search_path():
        if os.path.isdir(d):
            names.update(n for n in os.listdir(d) if os.path.isfile(os.path.join(d, n, "module.py")))
    return sorted(names)


def load(name, dirs=None):
    """The Module called `name`, or None when no directory has it."""
    if not name or "/" in name or name.startswith("."):
        return None
    for d in dirs or search_path():
        path = os.path.join(d, name, "module.py")
        if os.path.isfile(path):
            ns = {"Run": Run, "__file__": path, "__name__": f"capsule_module_{name}"}
            try:
                with open(path) as f:
                    exec(compile(f.read(), path, "exec"), ns)
            except ModuleError:
                raise
            except Exception as e:  # a broken module.py: say which one and why
                raise ModuleError(f"module '{name}' ({path}): {type(e).__name__}: {e}")
            return Module(name, os.path.dirname(path), ns.get("requires", []), ns.get("files"),
                          ns.get("configs", {}), ns.get("default"), ns.get("packages", []))
    return None


def resolve(names, loader):
    """The modules `names` need, each after its requirements, each once.
    `loader(name)` returns a Module or None."""
    order, done, loaded = [], set(), {}
    stack = []  # the current path of requirements, for the cycle message

    def get(name, needed_by):
        if name not in loaded:
            m = loader(name)
            if m is None:
                if needed_by:
                    raise ModuleError(f"module '{needed_by}' requires '{name}', which does not exist")
                raise ModuleError(f"unknown module '{name}'")
            loaded[name] = m
        return loaded[name]

    def visit(name, needed_by):
        if name in done:
            return
        if name in stack:
            cycle = stack[stack.index(name):] + [name]
            raise ModuleError("module dependency cycle: " + " -> ".join(cycle))
        m = get(name, needed_by)
        stack.append(name)
        for r in m.requires:
            visit(r, name)
        stack.pop()
        done.add(name)
        order.append(m)

    for n in names:
        visit(n, None)
    return order


def module_for(program, dirs=None):
    """The module whose program is the host file `program` (a real path):
    one of its run configurations starts a path that resolves on the host
    to the same file (python3's /usr/bin/python3 -> python3.11). A module
    that does not load is skipped (it is reported when named)."""
    real = os.path.realpath(program)
    for name in available(dirs):
        try:
            m = load(name, dirs)
        except ModuleError:
            continue
        for run in (m.configs.values() if m else ()):
            if os.path.realpath(run.argv[0]) == real:
                return name
    return None


def parse_spec(spec):
    """NAME[:CONFIG] -> (name, config or None)."""
    name, _, config = spec.partition(":")
    return name, (config or None)


class ModuleFiles:
    """What a module's files(m) gets as `m`: it records into an image
    builder (bundle.ImageBuilder) and knows the module's directory."""

    def __init__(self, module, builder):
        self.module = module
        self.builder = builder

    def _src(self, path):
        return path if os.path.isabs(path) else os.path.join(self.module.path, path)

    def add_host(self, path, guest=None):
        self.builder.add_host(self._src(path), guest)

    def add_program(self, path):
        self.builder.add_program(path)

    def add_package(self, package):
        self.builder.add_package(package)

    def add_text(self, guest, text, mode=0o644):
        self.builder.tree.add_bytes(guest, text, mode)

    def add_symlink(self, guest, target):
        self.builder.tree.add_symlink(guest, target)

    def add_dir(self, guest, mode=0o755):
        self.builder.tree.add_dir(guest, mode)

    def compile_c(self, source, guest, flags=("-O2",)):
        """Builds `source` (relative to the module) with gcc -static into
        build/modules/NAME/ (again only when the source is newer) and adds it
        at `guest`."""
        src = self._src(source)
        outdir = os.path.join(build.BUILD, "modules", self.module.name)
        os.makedirs(outdir, exist_ok=True)
        out = os.path.join(outdir, os.path.splitext(os.path.basename(src))[0])
        if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
            deps.ensure(["gcc"])
            r = subprocess.run(["gcc", "-static", *flags, "-o", out, src],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                raise ModuleError(f"module '{self.module.name}': cannot compile {src}:\n{r.stdout}")
        self.builder.tree.add_host(out, guest)
