"""Configuring and building the tree (CMake + Ninja) into build/."""
import os
import subprocess
import time
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
# CAPSULE_BUILD_DIR: another build tree (the tests point it at the one
# ctest runs from, so the kernel under test is the one that boots).
BUILD = os.environ.get("CAPSULE_BUILD_DIR") or os.path.join(ROOT, "build")
KERNEL = os.path.join(BUILD, "capsule.elf")
# The debug kernel (docs/debug-kernel.md): same tree, built alongside.
DEBUG_KERNEL = os.path.join(BUILD, "capsule-debug.elf")


def configure(quiet=True):
    if os.path.exists(os.path.join(BUILD, "build.ninja")):
        return
    cmd = ["cmake", "-S", ROOT, "-B", BUILD, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"]
    run(cmd, quiet)


def build(targets=(), quiet=True):
    configure(quiet)
    run(["ninja", "-C", BUILD, *targets], quiet)


def run(cmd, quiet):
    r = subprocess.run(cmd, stdout=subprocess.PIPE if quiet else None,
                       stderr=subprocess.STDOUT if quiet else None, text=True)
    if r.returncode != 0:
        if quiet and r.stdout:
            sys.stderr.write(r.stdout)
        sys.exit(f"capsule: build failed: {' '.join(cmd)}")


# A cached `capsule run` checks the kernel by stat instead of running
# ninja: after a successful build, STAMP lists every file ninja consults for
# capsule.elf (the inputs in its graph, the headers of its compile steps
# from ninja's deps log, build.ninja's own inputs, every directory a CMake
# glob reads) with its stat. When all are unchanged, ninja would find
# nothing to do; any difference, a missing stamp or one that could not be
# made (a file written while ninja ran) runs ninja.
STAMP = os.path.join(BUILD, "capsule-kernel.stamp")


def _sig(path):
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def kernel_up_to_date():
    try:
        with open(STAMP) as f:
            lines = f.read().split("\n")
    except OSError:
        return False
    if lines[0] != f"capsule-kernel-stamp-1 {BUILD}" or lines[-1] != "end":
        return False
    for line in lines[1:-1]:
        sig, _, path = line.partition(" ")
        if _sig(path) != sig:
            return False
    return True


def _consulted():
    """The paths ninja looks at to decide whether capsule.elf is up to date."""
    def out(*args, must=True):
        r = subprocess.run(["ninja", "-C", BUILD, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
        if r.returncode != 0:
            if must:
                raise OSError(f"ninja {' '.join(args)} failed")
            return ""
        return r.stdout

    def absolute(p):
        return p if p.startswith("/") else os.path.normpath(os.path.join(BUILD, p))

    nodes = set()
    # build.ninja is a target where CMake wrote it (its inputs: the
    # CMakeLists.txt files and CMake's modules).
    graph = out("-t", "graph", "capsule.elf") + out("-t", "graph", "build.ninja", must=False)
    for line in graph.splitlines():
        i = line.find('[label="')
        if line.startswith('"0x') and i > 0 and "->" not in line and "shape=ellipse" not in line:
            nodes.add(line[i + 8:line.index('"', i + 8)])
    paths = {absolute(n) for n in nodes}
    target = None
    for line in out("-t", "deps", *sorted(n for n in nodes if n.endswith(".o"))).splitlines():
        if not line.strip():
            target = None
        elif not line.startswith(" "):
            target = line.split(":", 1)[0]
        elif target in nodes:
            paths.add(absolute(line.strip()))
    globs = os.path.join(BUILD, "CMakeFiles", "VerifyGlobs.cmake")
    if os.path.exists(globs):
        paths.add(globs)
        with open(globs) as f:
            for line in f:
                if not line.startswith("file(GLOB"):
                    continue
                for pattern in line.split('"')[1::2]:  # the quoted words: the patterns
                    top = pattern
                    while any(c in top for c in "*?["):
                        top = os.path.dirname(top)
                    paths.add(top)
                    if line.startswith("file(GLOB_RECURSE"):
                        for d, subdirs, _ in os.walk(top):
                            paths.update(os.path.join(d, s) for s in subdirs)
    paths.add(KERNEL)
    paths.add(os.path.join(BUILD, "build.ninja"))
    return paths


def kernel_for(debug):
    """The kernel to boot, built: capsule.elf (through the stamp), or the
    debug kernel (ninja decides; it is not the common path)."""
    if debug:
        build([os.path.basename(DEBUG_KERNEL)])
        return DEBUG_KERNEL
    build_kernel()
    return KERNEL


def build_kernel():
    """build(["capsule.elf"]) unless the stamp says ninja has nothing to do."""
    if kernel_up_to_date():
        return
    try:
        os.unlink(STAMP)
    except OSError:
        pass
    start = time.time_ns()
    build(["capsule.elf"])
    try:
        paths = _consulted()
    except OSError:
        return
    lines = []
    for p in sorted(paths):
        sig = _sig(p)
        # A source written since ninja started may be newer than what it
        # built: no stamp, ninja decides next time (files in the build tree
        # are ninja's outputs: it wrote them).
        # "-": a phony node (a CMake target name), missing then and now.
        if sig != "-" and not p.startswith(BUILD + os.sep) and max(int(x) for x in sig.split(":")[2:]) >= start:
            return
        lines.append(f"{sig} {p}")
    # With these stats taken, ninja once more must have nothing to do for
    # the kernel (no always-run step on its way; -n cannot tell: it takes
    # CMake's glob check for a change): else no stamp, ninja every time.
    r = subprocess.run(["ninja", "-C", BUILD, "capsule.elf"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 or "no work to do" not in r.stdout:
        return
    tmp = f"{STAMP}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            f.write("\n".join([f"capsule-kernel-stamp-1 {BUILD}", *lines, "end"]))
        os.replace(tmp, STAMP)
    except OSError:
        pass
