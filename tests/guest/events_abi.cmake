# I/O multiplexing and event descriptors through the Linux ABI (linux/
# sys_poll.cc, sys_epoll.cc, sys_eventfd.cc, sys_timerfd.cc,
# sys_signalfd.cc, fifo.cc; docs/events.md). Each C program in
# tests/guest/programs-events/ passes on Linux too; it prints one
# "FAIL ..." line per failed check and "PASS <name>" at the end.
set(EVENTS_ABI_PROGRAMS epoll pipes poll eventfds)
set(EVENTS_ABI_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-events)

foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  if(variant STREQUAL "glibc-static-pie")
    continue()  # the loader path is the same as glibc-static's
  endif()
  foreach(name IN LISTS EVENTS_ABI_PROGRAMS)
    capsule_guest_c_program(out events-programs ${variant} ${EVENTS_ABI_SRC}/${name}.c ${EVENTS_ABI_SRC}/check.h)
    foreach(cpus 1 4)
      capsule_guest_test(events_abi.${variant}.${name}.cpus${cpus} PROGRAM ${out} CPUS ${cpus} MEM 256M
        TIMEOUT 120 EXPECT "PASS ${name}" REJECT FAIL panic)
    endforeach()
  endforeach()
endforeach()
