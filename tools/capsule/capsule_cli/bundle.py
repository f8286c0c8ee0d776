"""From `capsule run`/`capsule build` arguments to a guest image and a run
plan (argv, environment, working directory, memory) — docs/cli.md.

Every check of the user's input happens here, before any VM boots: a
missing program, a file that is not an x86-64 ELF, a missing shared
library, an unknown module, a bad --add/--env/--cwd each end the command
with one line on stderr (BadInput) and a non-zero status.
"""
import os
import subprocess
import sys

from . import debpkg, deps, elfdeps, imagecache, imagetree, modules

# terminfo entries packed with a terminal library (ncurses-base's; the
# program's own TERM is added to them).
COMMON_TERMS = ("dumb", "linux", "vt100", "vt220", "xterm", "xterm-256color", "screen", "screen-256color",
                "tmux", "tmux-256color")
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

# Where Debian packages put programs: a program elsewhere (a build tree, a
# home directory) is not looked up in dpkg's database.
DPKG_ROOTS = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/opt/", "/etc/")


class BadInput(Exception):
    """One line for the user; the command ends with status 2."""


def find_program(name):
    """A host path, or a name looked up on $PATH; the result is the real
    file (symlinks resolved)."""
    return os.path.realpath(locate_program(name))


def locate_program(name):
    """The absolute path `name` is found by, symlinks kept (what a shell
    runs: /usr/bin/redis-server, a link to redis-check-rdb). A name whose
    $PATH hit is a script (a pyenv or rbenv shim, say) but that is an ELF
    program on the guest's default PATH on this host is that program."""
    if os.sep in name:
        path = name
        if not os.path.lexists(path):
            raise BadInput(f"program '{name}' does not exist")
    else:
        import shutil
        path = shutil.which(name)
        if path and not _is_elf(path):
            plain = shutil.which(name, path=DEFAULT_ENV["PATH"])
            if plain and _is_elf(plain):
                path = plain
        if not path:
            raise BadInput(f"program '{name}' not found on $PATH")
    if not os.path.isfile(path):
        raise BadInput(f"'{name}' is not a file")
    return os.path.abspath(path)


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

    def __init__(self, verbose=False, package_cap=debpkg.DEFAULT_CAP):
        self.tree = imagetree.Tree()
        self.verbose = verbose
        self.dynamic = False
        self.package_cap = package_cap
        self.package_bytes = 0
        self.packages = []   # the Debian packages whose files came, in order
        self._db = None

    def say(self, msg):
        if self.verbose:
            print(f"capsule: {msg}", file=sys.stderr)

    def _check_elf(self, path):
        try:
            return elfdeps.check_program(path)
        except elfdeps.ElfError as e:
            raise BadInput(str(e))

    def add_named_program(self, name, real):
        """add_program(real) for a program the user named `name`; returns
        the guest path it is run by: the path `name` was found at, with the
        host's symlinks on the way, so argv[0] reads as a shell would pass
        it (multi-call programs such as redis-server, a link to
        redis-check-rdb, choose their role by it)."""
        guest = self.add_program(real)
        named = locate_program(name)
        if named != guest:
            self.tree.add_host_path(named)
            guest = named
        return guest

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
        self._add_glibc_unwinder(r)
        if r.interp:
            self.dynamic = True
            self.say(f"{path}: loader {r.interp}, {len(r.libs)} libraries")
        return os.path.realpath(path)

    def _add_glibc_unwinder(self, r):
        """glibc dlopens libgcc_s.so.1 to unwind a thread in pthread_exit and
        pthread_cancel (and for backtrace()); without it such a program
        aborts ("libgcc_s.so.1 must be installed for pthread_exit to work"),
        as Python does when a daemon thread ends during the interpreter's
        exit. Debian's libc6 depends on libgcc-s1 for this: the image brings
        it beside libc.so.6 (no DT_NEEDED names it)."""
        libc = r.libs.get("libc.so.6")
        if not libc:
            return
        unwinder = os.path.join(os.path.dirname(libc), "libgcc_s.so.1")
        if os.path.exists(unwinder):
            self.tree.add_host_path(unwinder)

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
            self._add_listed(path)
            n += 1
            if os.path.isfile(path) and not os.path.islink(path) and _is_elf(path):
                self._add_object_deps(path)
        self.say(f"package {package}: {n} paths")

    def _add_listed(self, path):
        """A path from a package's list at the same guest path; a dangling
        symlink (an alternative not chosen, say) stays a dangling symlink."""
        if os.path.islink(path) and not os.path.exists(path):
            parent = self.tree.add_host_path(os.path.dirname(path))
            self.tree.nodes[os.path.join(parent, os.path.basename(path))] = imagetree.Node(
                "link", 0o777, int(os.lstat(path).st_mtime), target=os.readlink(path))
        else:
            self.tree.add_host_path(path)

    def add_program_packages(self, path, given):
        """The files of the Debian package that owns the program `path`
        (real path; `given` is how the user spelled it) and of the closure of
        its Depends/Pre-Depends (debpkg.py), up to package_cap bytes: what
        the program loads or reads beyond its DT_NEEDED libraries (dlopen'd
        libraries, an interpreter's library tree, data). The installed
        package named like the program comes too (Debian splits perl into
        perl-base + perl, python3.11 into python3.11-minimal + python3.11).
        A program no package owns brings only its libraries."""
        if not self.package_cap or not path.startswith(DPKG_ROOTS):
            return
        import shutil
        given_abs = os.path.abspath(given) if os.sep in given else shutil.which(given) or given
        memo = debpkg.Memo(os.path.join(imagecache.cache_dir(), "packages.json"))
        key = f"{path}\0{given_abs}"
        closure = memo.get(key)
        if closure is None:
            owner = debpkg.owner(path, given_abs)
            closure = []
            if owner is not None:
                if self._db is None:
                    self._db = debpkg.Db()
                roots = [(owner, f"owns {path}")]
                named = os.path.basename(path)
                if named != owner and named in self._db.installed:
                    roots.append((named, f"named like the program {named}"))
                closure = self._db.closure(roots)
            memo.put(key, closure)
        if not closure:
            self.say(f"{path}: no Debian package owns it; only its libraries come")
            return
        db = debpkg.Db({})  # the file lists only
        left_out = []
        for pkg, why in closure:
            if pkg in self.packages:
                continue
            files = db.files(pkg)
            if files is None:
                self.say(f"package {pkg} ({why}): dpkg has no file list, skipped")
                continue
            size = sum(os.path.getsize(f) for f in files if os.path.isfile(f) and not os.path.islink(f))
            if self.package_bytes + size > self.package_cap:
                left_out.append((pkg, size))
                continue
            for f in files:
                self._add_listed(f)
            self.package_bytes += size
            self.packages.append(pkg)
            self.say(f"package {pkg} ({why}): {len(files)} paths, {size / MIB:.1f} MiB")
        if left_out:
            names = ", ".join(f"{p} ({s / MIB:.1f} MiB)" for p, s in left_out)
            print(f"capsule: warning: left out packages past the {self.package_cap // MIB} MiB "
                  f"package cap (--package-cap): {names}", file=sys.stderr)

    def add_host_data(self, env):
        """Host data programs commonly read, when the image lacks it:
        /etc/os-release, the host's /etc/localtime, the zone TZ names, the
        terminfo entry of TERM, and CA certificates and openssl.cnf when a
        TLS library is in the image."""
        def add(path, why):
            if os.path.exists(path) and self.tree.real_path(path) not in self.tree.nodes:
                self.tree.add_host_path(path)
                self.say(f"{path}: {why}")
        add("/etc/os-release", "the host's, as a container has its image's")
        add("/etc/localtime", "the host's time zone")
        tz = env.get("TZ", "").lstrip(":")
        if tz:
            zone = tz if tz.startswith("/") else os.path.join("/usr/share/zoneinfo", tz)
            if os.path.isfile(zone) and ".." not in tz.split("/"):
                add(zone, f"TZ={tz}")
        # A terminal library finds no database at all without these (top
        # -bn1: "terminals database is inaccessible", even with TERM unset).
        curses = ("libtinfo.so", "libncurses.so", "libncursesw.so")
        terms = list(COMMON_TERMS) if any(os.path.basename(p).startswith(curses)
                                          for p, _ in self.tree.files()) else []
        term = env.get("TERM", "")
        if term and "/" not in term and term not in terms:
            terms.append(term)
        for t in terms:
            for d in ("/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo"):
                entry = os.path.join(d, t[0], t)
                if os.path.isfile(entry):
                    add(entry, f"TERM={t}" if t == term else "a terminal library is in the image")
                    break
        tls = ("libssl.so", "libgnutls.so", "libnss3.so", "libcurl")
        if any(os.path.basename(p).startswith(tls) for p, _ in self.tree.files()):
            for path in ("/etc/ssl/certs/ca-certificates.crt", "/usr/lib/ssl/cert.pem",
                         "/usr/lib/ssl/openssl.cnf"):
                add(path, "a TLS library is in the image")

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


def make_plan(program, args, module_specs=(), adds=(), envs=(), cwd=None, rootfs=None, verbose=False,
              package_cap=debpkg.DEFAULT_CAP, host_term=None):
    """Raises BadInput; returns a Plan with its tree built. host_term: the
    TERM the program inherits, as on the host (`run`; a built image has
    none: it must not carry a fact of the build host)."""
    plan = Plan()
    b = ImageBuilder(verbose, package_cap)
    by_path = False  # the module was chosen by the program's real path
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
    elif program and not module_specs and rootfs is None:
        # However it is spelled (/usr/bin/python3, python3.11): the program's
        # real path decides, and a module whose program it is brings it.
        name = modules.module_for(find_program(program))
        by_path = bool(name)
        if name:
            module_specs = [name]
            b.say(f"using module '{name}' for '{program}' ({find_program(program)} is its program)")
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
    if program and by_path and program.startswith("/") and not _image_program(b.tree, program):
        # `/bin/python3` for the module's /usr/bin/python3: the host's
        # symlinks on the way (/bin -> usr/bin) come, so the name works.
        b.tree.add_host_path(os.path.abspath(program))
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
            plan.argv = [b.add_named_program(program, path)] + list(args)
            b.add_program_packages(path, program)
        # `PROG ARGS ; PROG2 ARGS2`: each later command's program is found
        # (and packed) like the first (docs/cmdline.md).
        for i in range(1, len(plan.argv) - 1):
            if plan.argv[i] == ";" and rootfs is None:
                w = plan.argv[i + 1]
                guest = module_specs and _image_program(b.tree, w)
                if not guest:
                    path = find_program(w)
                    guest = b.add_named_program(w, path)
                    b.add_program_packages(path, w)
                plan.argv[i + 1] = guest
        plan.label = plan.label or program
    for spec in adds:
        host, guest = parse_add(spec)
        b.add_host(host, guest)
    if rootfs is None:
        b.add_etc_defaults()
    if host_term and "/" not in host_term:
        plan.env["TERM"] = host_term
    for spec in envs:
        k, v = parse_env(spec)
        plan.env[k] = v
    if rootfs is None:
        b.add_host_data(plan.env)
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

