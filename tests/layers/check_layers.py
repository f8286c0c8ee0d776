#!/usr/bin/env python3
"""Checks that the build holds the layers (docs/architecture.md).

Reads build/layers.json (written by cmake/kernel.cmake: each layer's include
folders, the kernel compiler and its flags) and compiles a one-line
translation unit "in" a layer: with exactly the include folders that layer's
library gets. An upward include, or a reach into another layer's private
headers, must fail with "No such file"; the controls (a legal include) must
compile, so that a broken set-up cannot pass as a rejection.

  check_layers.py build/layers.json --test upward    # ctest layers.upward_include_rejected
  check_layers.py build/layers.json --test private   # ctest layers.private_include_rejected
  check_layers.py build/layers.json --show core linux/process.h   # the compiler's answer
"""
import argparse
import json
import subprocess
import sys
import tempfile

# (layer, header, must compile?)
TESTS = {
    "upward": [
        ("core", "core/thread.h", True),        # control: a layer's own public header
        ("core", "arch/cpu.h", True),           # control: a lower layer's public header
        ("linux", "linux/process.h", True),     # control: the header below exists
        ("core", "linux/process.h", False),     # core -> linux
        ("core", "fs/vfs.h", False),            # core -> fs
        ("arch", "core/mm.h", False),           # arch -> core
        ("lib", "arch/spinlock.h", False),      # lib -> arch
        ("fs", "drivers/tty.h", False),         # siblings do not see each other
        ("linux", "kernel/cmdline.h", False),   # linux -> kernel
        ("net", "fs/vfs.h", True),              # control: net sits on fs
        ("linux", "net/socket.h", True),        # control: linux sees net
        ("fs", "net/socket.h", False),          # fs -> net
        ("net", "linux/process.h", False),      # net -> linux
        ("net", "drivers/tty.h", False),        # net and drivers are siblings
    ],
    "private": [
        ("core", "core/mm/buddy.h", True),      # control: core's private header, inside core
        ("fs", "fs/vfs/dcache.h", True),        # control: fs's private header, inside fs
        ("fs", "core/mm/buddy.h", False),       # fs reaching into core's privates
        ("linux", "fs/vfs/dcache.h", False),    # linux reaching into fs's privates
        ("net", "net/unix/unix_socket.h", True),   # control: net's private header, inside net
        ("linux", "net/unix/unix_socket.h", False),  # linux reaching into net's privates
        ("drivers", "core/sched/run_queue.h", False),
        ("core", "arch/x64/cpu/traps.h", False),
    ],
}


def compile_in(cfg, layer, header):
    """Compiles '#include "header"' with the layer's include folders."""
    dirs = cfg["layers"][layer]
    flags = [f for f in cfg["flags"].split(";") if f and f not in ("-g", "-O2")]
    with tempfile.TemporaryDirectory() as tmp:  # nothing resolves beside the TU
        cmd = [cfg["cxx"], cfg["std"], *flags, "-D" + cfg["define"], "-fsyntax-only"]
        cmd += ["-I" + d for d in dirs]
        cmd += ["-x", "c++", "-"]
        r = subprocess.run(cmd, input=f'#include "{header}"\n', text=True,
                           capture_output=True, cwd=tmp)
    return r.returncode, r.stderr


def run_test(cfg, name):
    failures = 0
    for layer, header, ok in TESTS[name]:
        rc, err = compile_in(cfg, layer, header)
        if ok and rc != 0:
            print(f"FAIL control: {layer} cannot include \"{header}\":\n{err}")
            failures += 1
        elif not ok and rc == 0:
            print(f"FAIL: {layer} includes \"{header}\" and it compiled")
            failures += 1
        elif not ok and "No such file" not in err:
            print(f"FAIL: {layer} including \"{header}\" failed for another reason:\n{err}")
            failures += 1
        else:
            print(f"ok   {layer:8} \"{header}\": {'compiles' if ok else 'rejected (not found)'}")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("layers_json")
    ap.add_argument("--test", choices=sorted(TESTS))
    ap.add_argument("--show", nargs=2, metavar=("LAYER", "HEADER"))
    a = ap.parse_args()
    with open(a.layers_json) as f:
        cfg = json.load(f)
    if a.show:
        layer, header = a.show
        if layer not in cfg["layers"]:
            sys.exit(f"unknown layer {layer}; layers: {', '.join(cfg['layers'])}")
        rc, err = compile_in(cfg, layer, header)
        print(err.strip() if rc else f'{layer}: "{header}" compiles')
        return rc
    if a.test:
        return run_test(cfg, a.test)
    ap.error("give --test or --show")


if __name__ == "__main__":
    sys.exit(main())
