# Sockets through the Linux ABI (linux/sys_socket.cc, net/, docs/net.md).
# programs-net/unix_sockets.c covers AF_UNIX (socketpair, path and abstract
# names, listen/accept, shutdown, EPIPE/SIGPIPE, MSG_* flags, poll/epoll,
# ioctls, options, datagrams, seqpackets, SCM_RIGHTS, SCM_CREDENTIALS, bad
# input); it runs in the VM (glibc and musl, 1 and 4 CPUs) and natively on
# the host, where every expectation is Linux's.
capsule_guest_c_suite(net net-programs ${CMAKE_SOURCE_DIR}/tests/guest/programs-net
  PROGRAMS unix_sockets)
foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  if(variant STREQUAL "glibc-static-pie")
    continue()
  endif()
  add_test(NAME guest.net.host.${variant}.unix_sockets
    COMMAND ${CMAKE_BINARY_DIR}/net-programs/${variant}/unix_sockets)
  set_tests_properties(guest.net.host.${variant}.unix_sockets PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "PASS unix_sockets" FAIL_REGULAR_EXPRESSION "FAIL")
endforeach()
