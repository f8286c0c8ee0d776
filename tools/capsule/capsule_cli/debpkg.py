"""The host's Debian package database, as `capsule run PROGRAM` uses it to
bring a program's files beyond its shared libraries (docs/cli.md
"Packages"): the package that owns the program, the closure of its
Depends and Pre-Depends, and each package's files from dpkg's own lists.

Everything is read through dpkg: `dpkg-query -S` for the owner,
`dpkg-query -W` for the installed packages (one call), and
/var/lib/dpkg/info/PKG.list (what `dpkg -L` prints) for the files.
"""
import os
import re
import subprocess

INFO = "/var/lib/dpkg/info"
STATUS = "/var/lib/dpkg/status"

# Packages a dependency chain reaches only to configure packages at install
# time (maintainer scripts); a program does not run them.
MACHINERY = frozenset({
    "dpkg", "debconf", "debconf-2.0", "cdebconf", "install-info", "ucf", "adduser",
    "init-system-helpers", "lsb-base", "sysvinit-utils", "debianutils", "dpkg-dev",
})

# Files no program reads to run: documentation, and message catalogs (a
# program prints its own English text without them; LANG is not set in the
# guest).
EXCLUDE = re.compile(r"/usr/share/(doc|doc-base|man|info|lintian|bug|gtk-doc|help)/"
                     r"|/usr/share/locale/[^/]+/LC_MESSAGES/")

# The default cap on the packages' files, in bytes (--package-cap).
DEFAULT_CAP = 512 << 20


class Package:
    def __init__(self, name, depends, provides):
        self.name = name
        self.depends = depends      # [[alternative name, ...], ...] (Pre-Depends first)
        self.provides = provides    # virtual names


def _names(field):
    """'a (>= 1) | b:any, c' -> [['a', 'b'], ['c']]."""
    out = []
    for group in field.split(","):
        alts = []
        for alt in group.split("|"):
            name = alt.strip().split(" ", 1)[0].split("(", 1)[0].strip()
            name = name.split(":", 1)[0]
            if name:
                alts.append(name)
        if alts:
            out.append(alts)
    return out


def parse_status(text):
    """{name: Package} of the installed packages in `dpkg-query -W` output
    of FORMAT (architecture qualifiers dropped: one architecture here)."""
    pkgs = {}
    for line in text.splitlines():
        f = line.split("\t")
        if len(f) < 5 or not f[4].startswith("ii"):
            continue
        name = f[0].split(":", 1)[0]
        deps = _names(f[1]) + _names(f[2])
        provides = [a[0] for a in _names(f[3])]
        pkgs[name] = Package(name, deps, provides)
    return pkgs


FORMAT = "${binary:Package}\t${Pre-Depends}\t${Depends}\t${Provides}\t${db:Status-Abbrev}\n"


class Db:
    """The installed packages; `installed` may be given (tests)."""

    def __init__(self, installed=None, info=INFO):
        if installed is None:
            r = subprocess.run(["dpkg-query", "-W", "-f=" + FORMAT], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
            installed = parse_status(r.stdout)
        self.installed = installed
        self.info = info
        self.providers = {}
        for p in installed.values():
            for v in p.provides:
                self.providers.setdefault(v, []).append(p.name)

    def choose(self, alts):
        """The installed package that satisfies a dependency group: the first
        alternative installed, else the first installed provider of one."""
        for a in alts:
            if a in self.installed:
                return a
        for a in alts:
            if self.providers.get(a):
                return sorted(self.providers[a])[0]
        return None

    def closure(self, roots):
        """[(package, reason)] breadth-first from `roots` (the reason is
        'owns ...' given by the caller, or 'dependency of X'); packaging
        machinery is left out."""
        order, seen = [], set()
        queue = list(roots)
        while queue:
            name, why = queue.pop(0)
            if name in seen or name in MACHINERY or name not in self.installed:
                continue
            seen.add(name)
            order.append((name, why))
            for alts in self.installed[name].depends:
                dep = self.choose(alts)
                if dep and dep not in seen:
                    queue.append((dep, f"dependency of {name}"))
        return order

    def files(self, package):
        """The package's paths from dpkg's list, without directories,
        documentation and message catalogs; None if dpkg has no list."""
        for n in (f"{package}.list", f"{package}:amd64.list", f"{package}:all.list"):
            try:
                with open(os.path.join(self.info, n), errors="surrogateescape") as f:
                    paths = f.read().splitlines()
                break
            except OSError:
                pass
        else:
            return None
        out = []
        for p in paths:
            if not p.startswith("/") or p == "/." or EXCLUDE.search(p):
                continue
            if os.path.isdir(p) and not os.path.islink(p):
                continue
            if os.path.lexists(p):
                out.append(p)
        return out


def path_aliases(path):
    """The names dpkg may list a file under on a merged-/usr system
    (/bin/x for /usr/bin/x and back)."""
    out = [path]
    for short in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if path.startswith("/usr" + short):
            out.append(path[4:])
        elif path.startswith(short):
            out.append("/usr" + path)
    return out


def owner(*paths):
    """The package that owns one of `paths` (each tried with its aliases),
    or None. Diversions are not owners."""
    cands = []
    for p in paths:
        for a in path_aliases(p):
            if a not in cands:
                cands.append(a)
    r = subprocess.run(["dpkg-query", "-S", *cands], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    found = {}
    for line in r.stdout.splitlines():
        if line.startswith("diversion by "):
            continue
        pkgs, sep, path = line.rpartition(": ")
        if sep and path in cands:
            found.setdefault(path, pkgs.split(",")[0].strip().split(":", 1)[0])
    for c in cands:
        if c in found:
            return found[c]
    return None


def db_state(status=STATUS):
    """The identity of dpkg's database: every install or removal rewrites
    its status file."""
    try:
        st = os.stat(status)
    except OSError:
        return None
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


class Memo:
    """What a program's packages are (owner and closure), remembered in
    `path` (JSON) while dpkg's database is unchanged: `dpkg-query -S` reads
    every package's list and would cost ~0.4 s on each `capsule run`."""

    def __init__(self, path, state=""):
        self.path = path
        self.state = db_state() if state == "" else state  # None: no database
        self.table = {}
        try:
            with open(path) as f:
                import json
                data = json.load(f)
            if data.get("state") == self.state:
                self.table = data.get("programs", {})
        except (OSError, ValueError, AttributeError):
            pass

    def get(self, key):
        return self.table.get(key) if self.state else None

    def put(self, key, value):
        if not self.state:
            return
        self.table[key] = value
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(tmp, "w") as f:
                import json
                json.dump({"state": self.state, "programs": self.table}, f)
            os.replace(tmp, self.path)
        except OSError:
            pass
