"""Deployable images: what `capsule build ... -o DIR` writes and
`capsule run --image DIR` boots (docs/cli.md).

    DIR/capsule.elf     the kernel
    DIR/initrd.cpio     the image (cpio newc); empty when the image is a root disk
    DIR/root.ext4       a large image's files as a read-only ext4 disk (the
                        root's lower layer: docs/overlay.md "A disk root")
    DIR/run.sh          the QEMU command line, runnable on its own; it
                        exits with the program's status
    DIR/manifest.json   what was built: argv, env, cwd, memory, CPUs,
                        machine, the kernel command line, the image key

Nothing in DIR depends on the build host: run.sh works out, where it
runs, what qemu.py works out for `capsule run` (KVM or TCG, and under TCG
the host's TSC rate from /proc/cpuinfo, as qemu.host_tsc_khz does), and
every path in it is relative to DIR. CAPSULE_TSC_KHZ=N in run.sh's
environment replaces the rate it reads (tests simulate another host with
it; 0 passes none and the kernel calibrates), CAPSULE_ACCEL=kvm|tcg the
accelerator it picks.
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
# exit status is the program's. Host facts are read here, not at build time:
# KVM where a hardware KVM module is loaded (else TCG), and under TCG this
# host's TSC rate (CAPSULE_TSC_KHZ overrides it, CAPSULE_ACCEL the choice).
cd "$(dirname "$0")" || exit 1
accel=${{CAPSULE_ACCEL:-{accel}}}
if [ "$accel" = auto ]; then
  accel=tcg
  if {{ [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }} && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    accel=kvm
  fi
fi
case "$accel" in
  kvm) cpu=host; tsc= ;;
  tcg) cpu=max
    khz=${{CAPSULE_TSC_KHZ-$(awk -F: '/^cpu MHz/ {{ printf "%d", $2 * 1000; exit }}' /proc/cpuinfo 2>/dev/null)}}
    case "$khz" in
      ''|0|*[!0-9]*) tsc= ;;
      *) tsc="--tsc-khz=$khz " ;;
    esac{tsc_off}{multi} ;;
  *) echo "run.sh: CAPSULE_ACCEL must be kvm, tcg or auto (not '$accel')" >&2; exit 1 ;;
esac
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


def write(outdir, kernel, image, manifest, label, root_disk=None):
    """Writes the four files (five with a root disk: root.ext4, which run.sh
    attaches read-only); `manifest` has mem, cpus, machine, accel, cmdline."""
    os.makedirs(outdir, exist_ok=True)
    shutil.copyfile(kernel, os.path.join(outdir, "capsule.elf"))
    shutil.copyfile(image, os.path.join(outdir, "initrd.cpio"))
    if root_disk:
        shutil.copyfile(root_disk, os.path.join(outdir, "root.ext4"))
    accel = manifest["accel"]
    if accel not in qemu.ACCELS:
        raise ValueError(f"unknown accelerator '{accel}'")
    # The command as TCG without a TSC rate; run.sh fills in its host's
    # accelerator, CPU model and rate ($accel, $cpu, $tsc).
    cmd = qemu.command("capsule.elf", machine=manifest["machine"], mem=manifest["mem"],
                       cpus=manifest["cpus"], accel="tcg", cmdline=manifest["cmdline"],
                       initrd="initrd.cpio", status_file=STATUS_PLACEHOLDER, tsc_khz=0,
                       net=manifest.get("net", "user"), publish=manifest.get("publish", []),
                       net_static=True, root_disk="root.ext4" if root_disk else None,
                       # run.sh runs elsewhere: not what this host's tap is
                       # (one queue, as a single-queue tap needs).
                       net_multi_queue=False)
    shell = [shlex.quote(w) for w in cmd]
    shell[cmd.index("-accel") + 1] = '"$accel"'
    shell[cmd.index("-cpu") + 1] = '"$cpu"'
    shell[cmd.index("-append") + 1] = '"$tsc"' + shlex.quote(cmd[cmd.index("-append") + 1])
    shell[shell.index(shlex.quote(f"file,id=capsule-status,path={STATUS_PLACEHOLDER}"))] = \
        '"file,id=capsule-status,path=$status"'
    lines = [[]]
    for i, w in enumerate(shell[1:], 1):
        if cmd[i].startswith("-") and lines[-1] and cmd[i - 1] != "-append":
            lines.append([])
        lines[-1].append(w)
    words = shell[0] + " \\\n  " + " \\\n  ".join(" ".join(l) for l in lines)
    run_sh = os.path.join(outdir, "run.sh")
    with open(run_sh, "w") as f:
        f.write(RUN_SH.format(
            label=label.replace("\n", " "), command=words, accel=accel,
            # A --tsc-khz of the image's own command line wins, as in qemu.py.
            tsc_off="\n    tsc=" if qemu.cmdline_has_tsc(manifest["cmdline"]) else "",
            multi="\n    accel=tcg,thread=multi" if int(manifest["cpus"]) > 1 else ""))
    os.chmod(run_sh, 0o755)
    m = dict(manifest, version=MANIFEST_VERSION)
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
    for f in ("capsule.elf", "initrd.cpio") + ((m["root_disk"],) if m.get("root_disk") else ()):
        if not os.path.isfile(os.path.join(outdir, f)):
            raise BundleError(f"--image: '{outdir}' lacks {f}")
    return m
