# IPv4's and IPv6's pure parts (net/inet/, docs/net.md): checksums, header checks,
# fragment reassembly and the packet buffer. inet_test.cc gives them a
# malloc-backed kmalloc.
list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/net/inet/checksum.cc
  ${CMAKE_SOURCE_DIR}/net/inet/ipv4_header.cc
  ${CMAKE_SOURCE_DIR}/net/inet/ipv6_header.cc
  ${CMAKE_SOURCE_DIR}/net/inet/nd_message.cc
  ${CMAKE_SOURCE_DIR}/net/inet/nd_state.cc
  ${CMAKE_SOURCE_DIR}/net/inet/reassembly6.cc
  ${CMAKE_SOURCE_DIR}/net/inet/reassembly.cc
  ${CMAKE_SOURCE_DIR}/net/inet/packet.cc
  ${CMAKE_SOURCE_DIR}/net/inet/tcp_header.cc
  ${CMAKE_SOURCE_DIR}/net/inet/udp_header.cc
  ${CMAKE_SOURCE_DIR}/net/inet/tcp_cc.cc
)
