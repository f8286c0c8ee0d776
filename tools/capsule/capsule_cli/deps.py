"""Debian packages each subcommand needs, installed on demand.

Idempotent: dpkg-query first, apt-get only for what is missing, and it says
what it installs. Nothing comes from anywhere but Debian's archive.
"""
import os
import subprocess
import sys

PACKAGES = {
    "build": ["cmake", "ninja-build", "g++", "binutils", "python3"],
    "run": ["qemu-system-x86"],
    "test": ["googletest", "libgtest-dev"],
}


def missing(packages):
    out = []
    for p in packages:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if r.returncode != 0 or "install ok installed" not in r.stdout:
            out.append(p)
    return out


def ensure(packages):
    todo = missing(packages)
    if not todo:
        return
    print(f"capsule: installing {' '.join(todo)} (apt-get)", file=sys.stderr)
    if os.geteuid() != 0:
        sys.exit(f"capsule: need root to install {' '.join(todo)}; "
                 f"run: sudo apt-get install {' '.join(todo)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *todo]
    if subprocess.run(install, env=env, stdout=sys.stderr).returncode != 0:
        # Package lists may be missing or stale on a fresh machine.
        subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=sys.stderr, check=True)
        subprocess.run(install, env=env, stdout=sys.stderr, check=True)


def ensure_for(*commands):
    pkgs = []
    for c in commands:
        pkgs += PACKAGES[c]
    ensure(pkgs)
