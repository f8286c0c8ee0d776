# Ethernet layer (net/ether, docs/net_device.md): ARP, DHCP messages and the
# interface's input path compile for the host; the DHCP client (it sleeps)
# is kernel-only.
list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/net/ether/arp.cc
  ${CMAKE_SOURCE_DIR}/net/ether/dhcp_message.cc
  ${CMAKE_SOURCE_DIR}/net/ether/ether_if.cc)
