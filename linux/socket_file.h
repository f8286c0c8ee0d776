#pragma once
// Sockets as descriptor objects (linux/sys_socket.cc, docs/net.md).
#include "fs/vfs.h"
#include "net/socket.h"

namespace capsule::linux_abi {

// The calling process's credentials as a socket records them (SO_PEERCRED,
// SCM_CREDENTIALS): its pid, effective uid and gid.
net::Creds current_creds();
// Whether a descriptor's vnode is a socket (/proc/self/fd: "socket:[ino]").
bool is_socket(vfs::Vnode& v);
// SIOCGIF* on any socket (linux/socket_ifreq.cc); NotSupported for other
// requests.
Result<int64_t> interface_ioctl(uint64_t cmd, uint64_t arg);

}  // namespace capsule::linux_abi
