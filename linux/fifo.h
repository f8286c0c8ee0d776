#pragma once
// FIFOs (named pipes) of the file systems (linux/fifo.cc, docs/events.md).
#include <cstdint>

#include "fs/file.h"
#include "lib/result.h"

namespace capsule::linux_abi {

// True for a FIFO node of a file system that open() must turn into a pipe end.
bool is_fifo_node(vfs::Vnode& v);

// open(2)'s hook (linux/sys_file.cc do_open): `f` is an open file on a FIFO
// node; it becomes a pipe end on the FIFO's one pipe, after waiting for the
// other side as POSIX says (O_RDONLY waits for a writer, O_WRONLY for a
// reader, O_RDWR and O_NONBLOCK never wait; O_WRONLY|O_NONBLOCK without a
// reader is ENXIO). NoDeviceOrAddress (ENXIO), RestartSys (a signal) or
// NoMemory.
Result<void> fifo_open(vfs::FileRef& f);

}  // namespace capsule::linux_abi
