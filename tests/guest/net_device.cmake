# virtio-net, Ethernet, ARP and DHCP (drivers/virtio/net.cc, net/ether/,
# kernel/network.cc, docs/net_device.md), on both transports: virtio-mmio
# (microvm) and virtio-pci with MSI-X (q35), against QEMU's user network
# (its DHCP server hands out 10.0.2.15, router 10.0.2.2, DNS 10.0.2.3).
foreach(machine microvm q35)
  capsule_guest_test(net_device.${machine}.dhcp MACHINE ${machine} NET user CMDLINE --log=info
    EXPECT "eth0: virtio-net \\((mmio|pci)\\) mac 52:54:00:12:34:56, link up"
           "dhcp: eth0 10\\.0\\.2\\.15/24 router 10\\.0\\.2\\.2 dns 10\\.0\\.2\\.3"
    REJECT "panic" "not started")
  # Static set-up: no DHCP exchange (its log line must not appear).
  capsule_guest_test(net_device.${machine}.static MACHINE ${machine} NET user
    CMDLINE --log=info --ip=10.0.2.16/24 --gw=10.0.2.2 --dns=10.0.2.3
    EXPECT "network: eth0 10\\.0\\.2\\.16/24 \\(static\\)" REJECT "dhcp:" "panic")
endforeach()
# No NIC: nothing is started, the boot is as before.
capsule_guest_test(net_device.none NET none CMDLINE --log=info REJECT "eth0" "dhcp" "panic"
  EXPECT "booted in")
# Bad static values are refused before anything boots.
capsule_guest_test(net_device.bad_ip CMDLINE --ip=10.0.2.300/24 STATUS 2
  EXPECT "bad value '10.0.2.300/24' for --ip")
capsule_guest_test(net_device.bad_prefix CMDLINE --ip=10.0.2.15/33 STATUS 2
  EXPECT "bad value '10.0.2.15/33' for --ip")
capsule_guest_test(net_device.gw_without_ip CMDLINE --gw=10.0.2.2 STATUS 2
  EXPECT "--gw and --dns go with --ip")

# The program's resolver files: /etc/resolv.conf from DHCP, /etc/hosts with
# the address (and none of it without a network).
set(NET_CONFIG_VARIANT glibc-static)
if(NOT "glibc-static" IN_LIST CAPSULE_GUEST_VARIANTS)
  list(GET CAPSULE_GUEST_VARIANTS 0 NET_CONFIG_VARIANT)
endif()
if(NET_CONFIG_VARIANT)
  capsule_guest_c_program(net_config net-programs ${NET_CONFIG_VARIANT}
    ${CMAKE_SOURCE_DIR}/tests/guest/programs-net/net_config.c)
  foreach(machine microvm q35)
    capsule_guest_test(net_device.${machine}.resolver_files MACHINE ${machine} NET user PROGRAM ${net_config}
      ARGS 10.0.2.3 10.0.2.15 EXPECT "PASS net_config" REJECT "FAIL")
  endforeach()
  capsule_guest_test(net_device.static_resolver_files NET user PROGRAM ${net_config}
    CMDLINE --ip=192.168.7.9/24 --dns=192.168.7.1 ARGS 192.168.7.1 192.168.7.9 EXPECT "PASS net_config" REJECT "FAIL")
  # The image's /etc/hosts (the CLI brings one) gets the address, unless a
  # line names the host already.
  capsule_guest_test(net_device.hosts_appended NET user PROGRAM ${net_config}
    ADD ${CMAKE_SOURCE_DIR}/tests/guest/net_device/hosts:/etc/hosts
    ARGS 10.0.2.3 10.0.2.15 EXPECT "PASS net_config" REJECT "FAIL")
  capsule_guest_test(net_device.hosts_kept NET user PROGRAM ${net_config}
    ADD ${CMAKE_SOURCE_DIR}/tests/guest/net_device/hosts_named:/etc/hosts
    ARGS 10.0.2.3 10.9.9.9 EXPECT "PASS net_config" REJECT "FAIL" "10[.]0[.]2[.]15.capsule")
  capsule_guest_test(net_device.no_network_no_resolv_conf NET none PROGRAM ${net_config}
    ARGS none EXPECT "PASS net_config" REJECT "FAIL")
endif()

# The interfaces without netlink: SIOCGIF* ioctls and /proc/net/{dev,route}
# (linux/socket_ifreq.cc, linux/procfs_net.cc), with DHCP's, --ip's and no
# network; busybox's ifconfig and route read the same.
if(NET_CONFIG_VARIANT)
  capsule_guest_c_program(net_ifaces net-programs ${NET_CONFIG_VARIANT}
    ${CMAKE_SOURCE_DIR}/tests/guest/programs-net/net_ifaces.c)
  foreach(machine microvm q35)
    capsule_guest_test(net_device.${machine}.ifaces MACHINE ${machine} NET user PROGRAM ${net_ifaces}
      ARGS 10.0.2.15 24 10.0.2.2 52:54:00:12:34:56 dhcp EXPECT "PASS net_ifaces" REJECT "FAIL")
  endforeach()
  capsule_guest_test(net_device.ifaces_static NET user PROGRAM ${net_ifaces}
    CMDLINE --ip=192.168.7.9/20 --gw=192.168.7.1
    ARGS 192.168.7.9 20 192.168.7.1 52:54:00:12:34:56 static EXPECT "PASS net_ifaces" REJECT "FAIL")
  capsule_guest_test(net_device.ifaces_none NET none PROGRAM ${net_ifaces}
    ARGS none EXPECT "PASS net_ifaces" REJECT "FAIL")
endif()
if(EXISTS /bin/busybox)
  capsule_guest_test(net_device.busybox_ifconfig NET user PROGRAM /bin/busybox ARGS ifconfig eth0
    EXPECT "eth0 +Link encap:Ethernet +HWaddr 52:54:00:12:34:56"
           "inet addr:10\\.0\\.2\\.15 +Bcast:10\\.0\\.2\\.255 +Mask:255\\.255\\.255\\.0"
           "UP BROADCAST RUNNING MULTICAST +MTU:1500" "RX packets:[1-9]"
    REJECT "panic" "No such device")
  capsule_guest_test(net_device.busybox_route NET user PROGRAM /bin/busybox ARGS route -n
    EXPECT "0\\.0\\.0\\.0 +10\\.0\\.2\\.2 +0\\.0\\.0\\.0 +UG +0 +0 +0 eth0"
           "10\\.0\\.2\\.0 +0\\.0\\.0\\.0 +255\\.255\\.255\\.0 +U +0 +0 +0 eth0"
    REJECT "panic")
endif()

# UDP between the host and the VM (tests/guest/net_device/net_e2e.py, a
# host echo server reached as 10.0.2.2, and a -p HOST:7777/udp forward to a
# guest server), through EtherIf, ARP and the IP layer (net/ether/ether_netif.cc).
if(NET_CONFIG_VARIANT)
  capsule_guest_c_program(udp_peer net-programs ${NET_CONFIG_VARIANT}
    ${CMAKE_SOURCE_DIR}/tests/guest/programs-net/udp_peer.c)
  foreach(machine microvm q35)
    foreach(case udp_client udp_server)
      add_test(NAME guest.net_device.${machine}.${case}
        COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/net_device/net_e2e.py
          $<TARGET_FILE:capsule.elf> ${udp_peer} ${case} --machine ${machine})
      set_tests_properties(guest.net_device.${machine}.${case} PROPERTIES TIMEOUT 180
        PASS_REGULAR_EXPRESSION "^ok" FAIL_REGULAR_EXPRESSION "FAIL")
    endforeach()
  endforeach()
endif()
