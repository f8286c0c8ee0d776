#pragma once
// AF_UNIX sockets (net/unix/, docs/net.md; unix(7)): stream, datagram and
// seqpacket; path names (socket inodes in the VFS) and abstract names;
// descriptors (SCM_RIGHTS) and credentials in flight.
#include "net/socket.h"

namespace capsule::net {

// socket(AF_UNIX, type, 0). NoMemory.
Result<SocketRef> unix_socket(SockType type);
// socketpair(2): two connected sockets; each sees `creds` as its peer's.
Result<void> unix_socketpair(SockType type, const Creds& creds, SocketRef* a, SocketRef* b);

}  // namespace capsule::net
