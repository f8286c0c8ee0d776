# Processes (linux/sys_fork.cc, linux/sys_wait.cc, docs/process.md "Fork,
# exit and wait"): tests/guest/programs-proc/fork.c, built static with glibc
# and musl, run on 1 and 4 CPUs; it passes on the host's Linux too.
capsule_guest_c_suite(proc proc-programs ${CMAKE_SOURCE_DIR}/tests/guest/programs-proc
  PROGRAMS fork procs pidfd limits stop prefork)

# ps and top list every process: a shell's background sleeps, with their
# parent and command (busybox's ps; Debian's ps -ef, ps aux, top -bn1),
# checked the same way against the host's run first.
foreach(c busybox procps)
  foreach(cpus 1 4)
    add_test(NAME guest.proc.ps.${c}.cpus${cpus}
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/programs-proc/ps_test.py --kernel $<TARGET_FILE:capsule.elf>
              --case ${c} --cpus ${cpus})
    set_tests_properties(guest.proc.ps.${c}.cpus${cpus} PROPERTIES TIMEOUT 200 SKIP_RETURN_CODE 77)
  endforeach()
endforeach()
