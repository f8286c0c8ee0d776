# Shared memory and IPC between processes (docs/ipc.md, docs/futex.md
# "Keys"): tests/guest/programs-ipc/*.c, built static with glibc and musl,
# run on 1 and 4 CPUs; each passes on the host's Linux too.
capsule_guest_c_suite(ipc ipc-programs ${CMAKE_SOURCE_DIR}/tests/guest/programs-ipc
  PROGRAMS shm_fork futex_shared sysv_shm sysv_sem sysv_msg
  HEADERS ${CMAKE_SOURCE_DIR}/tests/guest/threads/futex_defs.h)
