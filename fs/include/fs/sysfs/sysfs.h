#pragma once
// sysfs (docs/pseudo-fs.md): the few /sys files runtimes read — the CPU
// lists and per-CPU directories (glibc's sysconf, Go, the JVM, nproc) and
// transparent_hugepage/enabled. No cgroup tree: /sys/fs/cgroup is absent,
// which runtimes take as "no limits".
#include "fs/vfs.h"

namespace capsule::sysfs {

// A sysfs instance (host tests mount it in their own Vfs).
Result<vfs::FsRef> create();

// Boot: creates /sys if missing and mounts sysfs on it.
Result<void> mount_boot(vfs::Vfs& v, const vfs::PathContext& pc);

}  // namespace capsule::sysfs
