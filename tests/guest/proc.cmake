# Processes (linux/sys_fork.cc, linux/sys_wait.cc, docs/process.md "Fork,
# exit and wait"): tests/guest/programs-proc/fork.c, built static with glibc
# and musl, run on 1 and 4 CPUs; it passes on the host's Linux too.
capsule_guest_c_suite(proc proc-programs ${CMAKE_SOURCE_DIR}/tests/guest/programs-proc
  PROGRAMS fork)
