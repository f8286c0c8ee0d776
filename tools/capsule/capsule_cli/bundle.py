"""From `capsule run`/`capsule build` arguments to a guest image and a run
plan (argv, environment, working directory, memory) — docs/cli.md.

Every check of the user's input happens here, before any VM boots: a
missing program, a file that is not an x86-64 ELF, a missing shared
library, an unknown module, a bad --add/--env/--cwd each end the command
with one line on stderr (BadInput) and a non-zero status.
"""
import os
import shutil
import subprocess
import sys

from . import deps, elfdeps, imagetree, modules

DEFAULT_ENV = {
    # What Docker gives a container that sets nothing (and `ops run` too).
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
}

ETC_FILES = {
    "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "/etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "/etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "/etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
                          "networks: files\nprotocols: files\nservices: files\n",
    "/etc/hostname": "capsule\n",
}

MIB = 1 << 20


class BadInput(Exception):
    """One line for the user; the command ends with status 2."""


def find_program(name):
    """A host path, or a name looked up on $PATH; the result is the real
    file (symlinks resolved)."""
    if os.sep in name:
        path = name
        if not os.path.lexists(path):
            raise BadInput(f"program '{name}' does not exist")
    else:
        path = shutil.which(name)
        if not path:
            raise BadInput(f"program '{name}' not found on $PATH")
    if not os.path.isfile(path):
        raise BadInput(f"'{name}' is not a file")
    return os.path.realpath(path)


def parse_add(spec):
    """--add HOST[:GUEST]: GUEST defaults to /basename(HOST)."""
    host, sep, guest = spec.partition(":")
    if not os.path.lexists(host):
        raise BadInput(f"--add: '{host}' does not exist")
    if not sep:
        guest = "/" + os.path.basename(os.path.normpath(os.path.abspath(host)))
    if not guest.startswith("/"):
        raise BadInput(f"--add: guest path '{guest}' must be absolute")
    return host, guest


def parse_env(spec):
    k, sep, v = spec.partition("=")
    if not sep or not k or any(c in k for c in " \t\n"):
        raise BadInput(f"--env: '{spec}' is not K=V")
    return k, v


def auto_mem_mib(image_bytes):
    """Without --mem: 128 MiB for the kernel and a working margin, plus twice
    the image (its bytes stay in RAM where they arrived, plus the pages
    programs copy or map privately), rounded up to 32 MiB."""
    mib = 128 + 2 * ((image_bytes + MIB - 1) // MIB)
    return (mib + 31) // 32 * 32


class ImageBuilder:
    """Collects what goes into the guest: programs with their libraries and
    loader, Debian packages, host paths, generated files."""

    def __init__(self, verbose=False):
        self.tree = imagetree.Tree()
        self.verbose = verbose
        self.dynamic = False

    def say(self, msg):
        if self.verbose:
            print(f"capsule: {msg}", file=sys.stderr)

    def _check_elf(self, path):
        try:
            return elfdeps.check_program(path)
        except elfdeps.ElfError as e:
            raise BadInput(str(e))

    def add_program(self, path):
        """An x86-64 ELF with its loader and libraries, each at its host path
        (with the host's symlinks); returns the program's guest path."""
        self._check_elf(path)
        try:
            r = elfdeps.resolve(path)
        except elfdeps.MissingLibrary as e:
            raise BadInput(str(e))
        except elfdeps.ElfError as e:
            raise BadInput(str(e))
        for p in r.paths():
            self.tree.add_host_path(p)
        if r.interp:
            self.dynamic = True
            self.say(f"{path}: loader {r.interp}, {len(r.libs)} libraries")
        return os.path.realpath(path)

    def _add_object_deps(self, path):
        """Libraries of a shared object or program that came with a package;
        one that cannot be resolved is left out (an optional plugin)."""
        try:
            r = elfdeps.resolve(path)
        except (elfdeps.MissingLibrary, elfdeps.ElfError) as e:
            self.say(f"skipping the libraries of {path}: {e}")
            return
        for p in r.paths()[1:]:
            self.tree.add_host_path(p)
        if r.interp:
            self.dynamic = True

    def add_host(self, host, guest=None):
        """`host` at `guest` (default: the same path, with the host's
        symlinks on the way); directories come whole."""
        if not os.path.lexists(host):
            raise BadInput(f"'{host}' does not exist")
        if guest is None:
            self.tree.add_host_path(os.path.abspath(host), whole_dir=True)
        else:
            # As `docker cp`/COPY: a symlink named on the command line is
            # followed (the guest gets its target's content under GUEST);
            # symlinks inside a directory stay symlinks.
            if os.path.islink(host):
                if not os.path.exists(host):
                    raise BadInput(f"'{host}' is a dangling symlink")
                host = os.path.realpath(host)
            try:
                self.tree.add_host(host, guest)
            except imagetree.TreeError as e:
                raise BadInput(str(e))

    def add_package(self, package):
        """Every file of the installed Debian package (dpkg -L), installed
        first when missing, and the libraries its ELF files need."""
        paths = _dpkg_list(package)
        if paths is None:
            deps.ensure([package])
            r = subprocess.run(["dpkg", "-L", package], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise BadInput(f"Debian package '{package}' is not installed: {r.stderr.strip()}")
            paths = r.stdout.splitlines()
        n = 0
        for path in paths:
            if not path.startswith("/") or path == "/." or not os.path.lexists(path):
                continue
            self.tree.add_host_path(path)
            n += 1
            if os.path.isfile(path) and not os.path.islink(path) and _is_elf(path):
                self._add_object_deps(path)
        self.say(f"package {package}: {n} paths")

    def add_etc_defaults(self):
        """Small /etc files glibc looks for, /tmp and /root, unless the image
        has its own."""
        for path, text in ETC_FILES.items():
            if path not in self.tree.nodes:
                self.tree.add_bytes(path, text)
        if self.dynamic and "/etc/ld.so.cache" not in self.tree.nodes and os.path.isfile(elfdeps.LD_SO_CACHE):
            self.tree.add_host(elfdeps.LD_SO_CACHE, "/etc/ld.so.cache")
        if "/tmp" not in self.tree.nodes:
            self.tree.add_dir("/tmp", 0o1777)
        if "/root" not in self.tree.nodes:
            self.tree.add_dir("/root", 0o700)


def _dpkg_list(package):
    """The paths of an installed package from dpkg's own file list (what
    `dpkg -L` prints, without a process per package: this is on every
    `capsule run` of a module, cached image or not); None when dpkg has no
    list for it (not installed: the caller installs and asks dpkg)."""
    info = "/var/lib/dpkg/info"
    for name in (f"{package}.list", f"{package}:amd64.list"):
        try:
            with open(os.path.join(info, name)) as f:
                return f.read().splitlines()
        except OSError:
            pass
    return None


def _is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


class Plan:
    """What to boot: the tree (or None with a prebuilt image), argv, env
    (ordered K=V list), cwd, mem (None: auto), cpus."""

    def __init__(self):
        self.tree = None
        self.argv = []
        self.env = dict(DEFAULT_ENV)
        self.cwd = None
        self.mem = None
        self.cpus = None
        self.label = ""

    def kernel_words(self):
        words = [f"--env={k}={v}" for k, v in self.env.items()]
        if self.cwd:
            words.append(f"--cwd={self.cwd}")
        return words


# A path in the image and the node it ends at (symlinks followed). The
# kernel's exec resolves symlinks itself, so the program keeps the name it
# was given (multi-call programs such as busybox look at argv[0]).
def _guest_node(tree, path):
    real = tree.real_path(path)
    return real, (tree.nodes.get(real) if real else None)


def _image_program(tree, program):
    """The guest path `program` names in the image: itself if absolute,
    else the first match on the default PATH; None if absent."""
    if program.startswith("/"):
        return program if _guest_node(tree, program)[1] is not None else None
    if os.sep in program:
        return None
    for d in DEFAULT_ENV["PATH"].split(":"):
        if _guest_node(tree, f"{d}/{program}")[1] is not None:
            return f"{d}/{program}"
    return None


def make_plan(program, args, module_specs=(), adds=(), envs=(), cwd=None, rootfs=None, verbose=False):
    """Raises BadInput; returns a Plan with its tree built."""
    plan = Plan()
    b = ImageBuilder(verbose)
    config = None
    if rootfs is not None:
        if not os.path.isdir(rootfs):
            raise BadInput(f"--rootfs: '{rootfs}' is not a directory")
        if module_specs:
            raise BadInput("--rootfs and --module do not go together (the root is the whole image)")
        b.tree.add_host(rootfs, "/")
    if not program and not module_specs and rootfs is None:
        module_specs = ["hello"]  # the bundled demo
    elif (program and not module_specs and rootfs is None and os.sep not in program
          and program in modules.available()):
        # `capsule run python3 ...`: a bundled module of that name brings
        # what the program needs beyond its libraries (Python's standard
        # library), and the program is the module's.
        module_specs = [program]
        b.say(f"using module '{program}' for '{program}'")
    if module_specs:
        names = []
        for spec in module_specs:
            name, cfg = modules.parse_spec(spec)
            names.append(name)
            if config is None and (cfg or not program):
                config = (name, cfg)
        try:
            order = modules.resolve(names, modules.load)
            for m in order:
                if m.packages:
                    deps.ensure(m.packages)
                if m.files:
                    try:
                        m.files(modules.ModuleFiles(m, b))
                    except (BadInput, modules.ModuleError):
                        raise
                    except Exception as e:  # a bug or a missing file in module.py
                        raise BadInput(f"module '{m.name}': files(): {type(e).__name__}: {e}")
            if config is not None:
                mod = next(m for m in order if m.name == config[0])
                run = mod.config(config[1])
                plan.label = f"{mod.name}:{config[1] or mod.default}"
        except modules.ModuleError as e:
            raise BadInput(str(e))
        if config is not None:
            # The real file (the kernel's exec takes the path as given).
            real, node = _guest_node(b.tree, run.argv[0])
            if node is None or node.kind != "file":
                raise BadInput(f"module {plan.label}: program '{run.argv[0]}' is not in the image")
            plan.argv = [run.argv[0]] + list(run.argv[1:]) + list(args if not program else [])
            plan.env.update(run.env)
            plan.cwd = run.cwd
            plan.mem = run.mem
            plan.cpus = run.cpus
    if program:
        if rootfs is not None:
            if not program.startswith("/"):
                raise BadInput(f"with --rootfs, the program is a path inside the root ('{program}' is not absolute)")
            real, node = _guest_node(b.tree, program)
            if node is None or node.kind != "file":
                raise BadInput(f"program '{program}' does not exist in {rootfs}")
            b._check_elf(node.host)
            plan.argv = [program] + list(args)
        elif module_specs and _image_program(b.tree, program):
            # A program the modules put in the image (a path, or a name on
            # the guest's default PATH).
            guest = _image_program(b.tree, program)
            real, node = _guest_node(b.tree, guest)
            if node.kind != "file":
                raise BadInput(f"'{program}' is not a file in the image")
            plan.argv = [guest] + list(args)
        else:
            path = find_program(program)
            plan.argv = [b.add_program(path)] + list(args)
        # `PROG ARGS ; PROG2 ARGS2`: each later command's program is found
        # (and packed) like the first (docs/cmdline.md).
        for i in range(1, len(plan.argv) - 1):
            if plan.argv[i] == ";" and rootfs is None:
                w = plan.argv[i + 1]
                plan.argv[i + 1] = (module_specs and _image_program(b.tree, w)) or b.add_program(find_program(w))
        plan.label = plan.label or program
    for spec in adds:
        host, guest = parse_add(spec)
        b.add_host(host, guest)
    if rootfs is None:
        b.add_etc_defaults()
    for spec in envs:
        k, v = parse_env(spec)
        plan.env[k] = v
    if cwd is not None:
        plan.cwd = cwd
    if plan.cwd is not None:
        if not plan.cwd.startswith("/"):
            raise BadInput(f"--cwd: '{plan.cwd}' must be an absolute guest path")
        real, node = _guest_node(b.tree, plan.cwd)
        if node is None or node.kind != "dir":
            raise BadInput(f"--cwd: '{plan.cwd}' is not a directory in the image")
    plan.tree = b.tree
    return plan


def tree_summary(tree):
    kinds = {}
    for n in tree.nodes.values():
        kinds[n.kind] = kinds.get(n.kind, 0) + 1
    return kinds, tree.data_size()

