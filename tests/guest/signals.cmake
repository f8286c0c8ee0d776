# Signals (linux/signal.cc, linux/sys_signal.cc, linux/sys_timer.cc;
# docs/signals.md). Each C program in tests/guest/signals/ is built three
# ways at build time — gcc -static, gcc -static-pie, musl-gcc -static — into
# build/signals/<variant>/<name> and run in the VM. The checking programs
# print one "FAIL ..." line per failed check and "<name>: all ok" at the end;
# sig_term, sig_null and sig_blocked end by a fatal signal (status 128+N).
set(SIGNAL_SRC ${CMAKE_SOURCE_DIR}/tests/guest/signals)

# name;status;expectation (regex)
set(signal_tests
  "sig_faults|0|sig_faults: all ok"
  "sig_basic|0|sig_basic: all ok"
  "sig_timers|0|sig_timers: all ok"
  "sig_fastcalls|0|sig_fastcalls: all ok"
  "sig_term|143|capsule: program terminated by signal 15 \\(SIGTERM\\) at RIP 0x[0-9a-f]+$"
  "sig_null|139|capsule: program terminated by signal 11 \\(SIGSEGV\\) at RIP 0x[0-9a-f]+ \\(fault address 0x0\\)"
  "sig_blocked|139|capsule: program terminated by signal 11 \\(SIGSEGV\\) at RIP 0x[0-9a-f]+ \\(fault address 0x0\\): the signal was blocked")

foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  foreach(entry IN LISTS signal_tests)
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 name)
    list(GET parts 1 status)
    list(GET parts 2 expect)
    capsule_guest_c_program(out signals ${variant} ${SIGNAL_SRC}/${name}.c ${SIGNAL_SRC}/sigtest.h)
    capsule_guest_test(signals.${variant}.${name} PROGRAM ${out} STATUS ${status} CPUS 2 TIMEOUT 120
      EXPECT "${expect}" REJECT FAIL panic still.alive)
  endforeach()
endforeach()
