"""Deployable images: what `capsule build ... -o DIR` writes and
`capsule run --image DIR` boots (docs/cli.md).

    DIR/capsule.elf     the kernel
    DIR/initrd.cpio     the image (cpio newc)
    DIR/run.sh          the exact QEMU command line, runnable on its own; it
                        exits with the program's status
    DIR/manifest.json   what was built: argv, env, cwd, memory, CPUs,
                        machine, the kernel command line, the image key
"""
import json
import os
import shlex
import shutil

from . import qemu

MANIFEST_VERSION = 1
STATUS_PLACEHOLDER = "@CAPSULE_STATUS_FILE@"

RUN_SH = """#!/bin/sh
# Boots {label} on Capsule. Written by `capsule build` (docs/cli.md); the
# exit status is the program's.
cd "$(dirname "$0")" || exit 1
status=$(mktemp) || exit 1
{command}
rc=$?
last=$(tail -n 1 "$status" 2>/dev/null)
rm -f "$status"
if [ "$rc" -ge 3 ] && [ $((rc % 2)) -eq 1 ]; then
  case "$last" in
    ''|*[!0-9]*) exit $(( rc / 2 - 1 )) ;;
    *) exit "$last" ;;
  esac
fi
echo "run.sh: QEMU failed or the VM reset without an exit status (QEMU status $rc)" >&2
exit 1
"""


class BundleError(Exception):
    pass


def write(outdir, kernel, image, manifest, label):
    """Writes the four files; `manifest` has mem, cpus, machine, accel, cmdline."""
    os.makedirs(outdir, exist_ok=True)
    shutil.copyfile(kernel, os.path.join(outdir, "capsule.elf"))
    shutil.copyfile(image, os.path.join(outdir, "initrd.cpio"))
    cmd = qemu.command("capsule.elf", machine=manifest["machine"], mem=manifest["mem"],
                       cpus=manifest["cpus"], accel=manifest["accel"], cmdline=manifest["cmdline"],
                       initrd="initrd.cpio", status_file=STATUS_PLACEHOLDER)
    lines = [[]]
    for i, w in enumerate(cmd[1:], 1):
        if w.startswith("-") and lines[-1] and cmd[i - 1] != "-append":
            lines.append([])
        lines[-1].append(shlex.quote(w))
    words = shlex.quote(cmd[0]) + " \\\n  " + " \\\n  ".join(" ".join(l) for l in lines)
    words = words.replace(shlex.quote(f"file,id=capsule-status,path={STATUS_PLACEHOLDER}"),
                          '"file,id=capsule-status,path=$status"')
    run_sh = os.path.join(outdir, "run.sh")
    with open(run_sh, "w") as f:
        f.write(RUN_SH.format(label=label.replace("\n", " "), command=words))
    os.chmod(run_sh, 0o755)
    m = dict(manifest, version=MANIFEST_VERSION, qemu=cmd)
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)
        f.write("\n")


def load(outdir):
    """The manifest of a built image; BundleError says what is wrong."""
    path = os.path.join(outdir, "manifest.json")
    try:
        with open(path) as f:
            m = json.load(f)
    except OSError:
        raise BundleError(f"--image: '{outdir}' has no manifest.json (make one with `capsule build ... -o DIR`)")
    except ValueError as e:
        raise BundleError(f"--image: {path} is not valid JSON: {e}")
    if m.get("version") != MANIFEST_VERSION:
        raise BundleError(f"--image: {path}: unsupported manifest version {m.get('version')!r}")
    for f in ("capsule.elf", "initrd.cpio"):
        if not os.path.isfile(os.path.join(outdir, f)):
            raise BundleError(f"--image: '{outdir}' lacks {f}")
    return m
