// socket(AF_INET or AF_INET6, ...) (net/include/net/inet.h): the transport by type.
#include <new>

#include "net/inet.h"
#include "net/inet/tcp_socket.h"
#include "net/inet/icmp_socket.h"
#include "net/inet/udp_socket.h"

namespace capsule::net {

Result<SocketRef> inet_socket(SockType type, Family family, bool icmp) {
  Socket* s = nullptr;
  switch (type) {
    case SockType::Dgram:
      s = icmp ? icmp_socket_new(family, false) : new (std::nothrow) UdpSocket(family);
      break;
    case SockType::Raw: s = icmp_socket_new(family, true); break;
    case SockType::Stream: s = tcp_new_socket(family); break;
    default: return Error::SockTypeNotSupported;
  }
  if (!s) return Error::NoMemory;
  return SocketRef::adopt(s);
}

}  // namespace capsule::net
