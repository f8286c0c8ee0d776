#pragma once
// Pipe ends as descriptor objects (linux/sys_pipe.cc).
#include "core/pipe.h"
#include "fs/vfs.h"

namespace capsule::linux_abi {

// The calling thread's privileges for the pipe limits (CAP_SYS_RESOURCE,
// CAP_SYS_ADMIN; core/include/core/pipe.h).
PipeCaller pipe_caller();

// The pipe end behind a descriptor's vnode, or nullptr (fcntl F_*PIPE_SZ).
PipeEnd* pipe_end_of(vfs::Vnode& v);

// Told when a pipe end made by pipe_vnode() has closed (the end is gone).
class PipeEndOwner {
 public:
  virtual void end_closed(bool reader, bool writer) = 0;

 protected:
  ~PipeEndOwner() = default;
};

// The descriptor object over `end`, which it takes (deleted on failure).
// node: the FIFO of a file system the end was opened on (fstat reports
// it), empty for pipe2's ends; owner (may be null) hears of the close.
// NoMemory.
Result<vfs::VnodeRef> pipe_vnode(PipeEnd* end, vfs::VnodeRef node, PipeEndOwner* owner);

}  // namespace capsule::linux_abi
