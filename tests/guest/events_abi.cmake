# I/O multiplexing and event descriptors through the Linux ABI (linux/
# sys_poll.cc, sys_epoll.cc, sys_eventfd.cc, sys_timerfd.cc,
# sys_signalfd.cc, fifo.cc; docs/events.md). Each C program in
# tests/guest/programs-events/ passes on Linux too; it prints one
# "FAIL ..." line per failed check and "PASS <name>" at the end.
capsule_guest_c_suite(events_abi events-programs ${CMAKE_SOURCE_DIR}/tests/guest/programs-events
  PROGRAMS epoll pipes poll eventfds
  HEADERS ${CMAKE_SOURCE_DIR}/tests/guest/programs-events/check.h)
