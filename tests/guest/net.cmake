# Sockets through the Linux ABI (linux/sys_socket.cc, net/, docs/net.md).
# programs-net/unix_sockets.c covers AF_UNIX (socketpair, path and abstract
# names, listen/accept, shutdown, EPIPE/SIGPIPE, MSG_* flags, poll/epoll,
# ioctls, options, datagrams, seqpackets, SCM_RIGHTS, SCM_CREDENTIALS, bad
# input); it runs in the VM (glibc and musl, 1 and 4 CPUs) and natively on
# the host, where every expectation is Linux's. programs-net/inet_sockets.c
# does the same for AF_INET over the loopback interface (UDP, TCP, bad
# input).
capsule_guest_c_suite(net net-programs ${CMAKE_SOURCE_DIR}/tests/guest/programs-net
  PROGRAMS unix_sockets inet_sockets inet_tcp)
foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  if(variant STREQUAL "glibc-static-pie")
    continue()
  endif()
  foreach(prog unix_sockets inet_sockets inet_tcp)
    add_test(NAME guest.net.host.${variant}.${prog}
      COMMAND ${CMAKE_BINARY_DIR}/net-programs/${variant}/${prog})
    set_tests_properties(guest.net.host.${variant}.${prog} PROPERTIES TIMEOUT 120
      PASS_REGULAR_EXPRESSION "PASS ${prog}" FAIL_REGULAR_EXPRESSION "FAIL")
  endforeach()
endforeach()
