#pragma once
// Pipe ends as descriptor objects (linux/sys_pipe.cc).
#include "capsule/pipe.h"
#include "capsule/vfs.h"

namespace capsule::linux_abi {

// The pipe end behind a descriptor's vnode, or nullptr (fcntl F_*PIPE_SZ).
PipeEnd* pipe_end_of(vfs::Vnode& v);

}  // namespace capsule::linux_abi
