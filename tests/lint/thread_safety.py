#!/usr/bin/env python3
"""lint.thread_safety: clang's -Wthread-safety over the kernel sources.

The kernel is built with gcc, which ignores the lock annotations of
lib/include/lib/thread_annotations.h; this test runs clang in syntax-only mode over every
kernel translation unit of the build's compile_commands.json (the gcc command
lines, with gcc-only and code-generation flags dropped) and fails on any
warning or error. A positive control, tests/lint/thread_safety_probe.cc,
breaks the rules on purpose: each line marked `expect:` must draw its
warning, so the test cannot pass by checking nothing. docs/locking.md.

  thread_safety.py BUILD_DIR [--clang clang++] [--jobs 2] [--gcc g++] [--only REGEX]
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROBE = os.path.join(HERE, "thread_safety_probe.cc")

# The kernel's translation units carry this definition (cmake/kernel.cmake);
# host unit tests carry CAPSULE_HOST instead.
KERNEL_MARK = "-DCAPSULE_KERNEL=1"

# Flags kept from the gcc command line: the ones that change what the source
# means. Everything else is code generation, optimisation, warnings or
# output. -mgeneral-regs-only is dropped on purpose: clang then rejects the
# `long double` declarations in libstdc++'s headers, which gcc tolerates.
KEEP_PREFIX = ("-D", "-U", "-I", "-std=")
KEEP_EXACT = {"-ffreestanding", "-fno-exceptions", "-fno-rtti", "-nostdinc", "-nostdinc++"}
TAKES_ARG = {"-I", "-D", "-U", "-isystem", "-iquote", "-include", "-o", "-MF", "-MT", "-MQ"}
KEEP_WITH_ARG = {"-I", "-D", "-U", "-isystem", "-iquote", "-include"}

ANALYSIS = ["-fsyntax-only", "-Wno-everything", "-Wthread-safety", "-fno-color-diagnostics",
            "-ferror-limit=20"]

DIAG = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<kind>warning|error): (?P<msg>.*)$")


def translate(command, directory):
    """The gcc command of one entry as clang arguments (file excluded)."""
    args = shlex.split(command)[1:]
    out = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in TAKES_ARG:
            if a in KEEP_WITH_ARG and i + 1 < len(args):
                val = args[i + 1]
                if a in ("-I", "-isystem", "-iquote") and not os.path.isabs(val):
                    val = os.path.join(directory, val)
                out += [a, val]
            i += 2
            continue
        if a.startswith(KEEP_PREFIX) or a in KEEP_EXACT:
            if a.startswith("-I") and len(a) > 2 and not os.path.isabs(a[2:]):
                a = "-I" + os.path.join(directory, a[2:])
            out.append(a)
        i += 1
    return out


def kernel_units(build_dir):
    path = os.path.join(build_dir, "compile_commands.json")
    with open(path) as f:
        entries = json.load(f)
    units = []
    seen = set()
    for e in entries:
        cmd = e.get("command") or " ".join(shlex.quote(a) for a in e.get("arguments", []))
        src = e["file"]
        if KERNEL_MARK not in cmd or not src.endswith(".cc") or src in seen:
            continue
        seen.add(src)
        units.append((src, translate(cmd, e.get("directory", build_dir))))
    return units


def run_clang(clang, src, flags):
    r = subprocess.run([clang, *ANALYSIS, *flags, src], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace")
    return src, r.returncode, r.stdout


def diagnostics(text):
    for line in text.splitlines():
        m = DIAG.match(line)
        if m:
            yield m


def check_probe(clang, gcc, flags):
    """The control: every `expect:` line draws its warning, and no other."""
    problems = []
    expected = {}
    with open(PROBE) as f:
        for n, line in enumerate(f, 1):
            if "// expect:" in line:
                expected[n] = line.split("// expect:", 1)[1].strip()
    _, _, out = run_clang(clang, PROBE, flags)
    got = {}
    for m in diagnostics(out):
        if os.path.abspath(m["file"]) != PROBE:
            problems.append(f"probe: a diagnostic outside the probe: {m.group(0)}")
            continue
        got.setdefault(int(m["line"]), []).append(m["msg"])
    for n, want in sorted(expected.items()):
        if not any(want in msg for msg in got.get(n, [])):
            problems.append(f"probe line {n}: expected a warning containing \"{want}\", "
                            f"got {got.get(n) or 'none'}")
    for n, msgs in sorted(got.items()):
        if n not in expected:
            problems.append(f"probe line {n}: unexpected: {msgs}")
    if gcc:
        r = subprocess.run([gcc, "-fsyntax-only", "-Wall", "-Wextra", "-Werror", *flags, PROBE],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            problems.append("probe: g++ rejects the annotations (they must be no-ops there):\n" + r.stdout)
    return len(expected), problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir")
    ap.add_argument("--clang", default=os.environ.get("CLANGXX") or "clang++")
    ap.add_argument("--gcc", default="g++", help="also check the probe compiles with gcc ('' to skip)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("CAPSULE_LINT_JOBS", "2")))
    ap.add_argument("--only", help="check only the kernel files whose path matches this regex")
    opts = ap.parse_args()

    if not shutil.which(opts.clang):
        print(f"lint.thread_safety: {opts.clang} not found (`capsule test` installs clang)")
        return 1
    units = kernel_units(opts.build_dir)
    # The probe includes core/ headers (private ones too), so it borrows the
    # flags of a core/ file: each layer's library sees only its own private
    # root and the layers below it.
    core_units = [u for u in units if re.search(r"/core/", u[0])]
    probe_flags = core_units[0][1] if core_units else None
    if opts.only:
        units = [u for u in units if re.search(opts.only, u[0])]
    if not units:
        print(f"lint.thread_safety: no kernel sources ({KERNEL_MARK}) in "
              f"{opts.build_dir}/compile_commands.json")
        return 1

    start = time.monotonic()
    if probe_flags is None:
        print("lint.thread_safety: no core/ source to borrow the probe's flags from")
        return 1
    n_expected, problems = check_probe(opts.clang, opts.gcc, probe_flags)
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        results = list(pool.map(lambda u: run_clang(opts.clang, u[0], u[1]), units))

    findings = []
    for src, rc, out in results:
        diags = list(diagnostics(out))
        if diags or rc != 0:
            findings.append((src, out.strip() or f"clang exited {rc}"))
    # A header's warning shows once per file that includes it: print each once.
    printed = set()
    for src, out in findings:
        if out not in printed:
            printed.add(out)
            print(f"--- {os.path.relpath(src, ROOT)}\n{out}")
    for p in problems:
        print(p)
    n_warn = sum(1 for _, _, out in results for m in diagnostics(out) if m["kind"] == "warning")
    n_err = sum(1 for _, _, out in results for m in diagnostics(out) if m["kind"] == "error")
    print(f"lint.thread_safety: {len(units)} kernel files, {n_warn} warnings, {n_err} errors; "
          f"probe {n_expected} expected warnings, {len(problems)} problems; "
          f"{time.monotonic() - start:.0f} s")
    return 1 if findings or problems else 0


if __name__ == "__main__":
    sys.exit(main())
