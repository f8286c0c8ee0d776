"""Configuring and building the tree (CMake + Ninja) into build/."""
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
# CAPSULE_BUILD_DIR: another build tree (the tests point it at the one
# ctest runs from, so the kernel under test is the one that boots).
BUILD = os.environ.get("CAPSULE_BUILD_DIR") or os.path.join(ROOT, "build")
KERNEL = os.path.join(BUILD, "capsule.elf")


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
