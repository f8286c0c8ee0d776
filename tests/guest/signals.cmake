# Signals (linux/signal.cc, linux/sys_signal.cc, linux/sys_timer.cc;
# docs/signals.md). Each C program in tests/guest/signals/ is built three
# ways at build time — gcc -static, gcc -static-pie, musl-gcc -static — into
# build/signals/<variant>/<name> and run in the VM. The checking programs
# print one "FAIL ..." line per failed check and "<name>: all ok" at the end;
# sig_term and sig_null end by a fatal signal (status 128+N).
set(SIGNAL_SRC ${CMAKE_SOURCE_DIR}/tests/guest/signals)
find_program(SIGNAL_GCC gcc)
find_program(SIGNAL_MUSL_GCC musl-gcc)

set(signal_variants)
if(SIGNAL_GCC)
  list(APPEND signal_variants glibc-static glibc-static-pie)
endif()
if(SIGNAL_MUSL_GCC)
  list(APPEND signal_variants musl-static)
else()
  message(STATUS "musl-gcc not found: the musl variants of the signal tests are skipped (apt-get install musl-tools)")
endif()

# name;status;expectation (regex)
set(signal_tests
  "sig_faults|0|sig_faults: all ok"
  "sig_basic|0|sig_basic: all ok"
  "sig_timers|0|sig_timers: all ok"
  "sig_term|143|capsule: program terminated by signal 15 \\(SIGTERM\\) at RIP 0x[0-9a-f]+$"
  "sig_null|139|capsule: program terminated by signal 11 \\(SIGSEGV\\) at RIP 0x[0-9a-f]+ \\(fault address 0x0\\)")

set(signal_outputs)
foreach(variant IN LISTS signal_variants)
  if(variant STREQUAL "glibc-static")
    set(cc ${SIGNAL_GCC})
    set(link -static)
  elseif(variant STREQUAL "glibc-static-pie")
    set(cc ${SIGNAL_GCC})
    set(link -static-pie -fPIE)
  else()
    set(cc ${SIGNAL_MUSL_GCC})
    set(link -static)
  endif()
  foreach(entry IN LISTS signal_tests)
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 name)
    list(GET parts 1 status)
    list(GET parts 2 expect)
    set(out ${CMAKE_BINARY_DIR}/signals/${variant}/${name})
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/signals/${variant}
      COMMAND ${cc} ${link} -O2 -Wall -pthread -o ${out} ${SIGNAL_SRC}/${name}.c
      DEPENDS ${SIGNAL_SRC}/${name}.c ${SIGNAL_SRC}/sigtest.h
      COMMENT "signals: ${variant}/${name}"
      VERBATIM)
    list(APPEND signal_outputs ${out})
    add_test(NAME guest.signals.${variant}.${name}
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/run_guest.py
        --kernel $<TARGET_FILE:capsule.elf> --status ${status} --timeout 120 --machine microvm --cpus 2 --mem 128M
        --program ${out} "--expect=${expect}" --reject=FAIL --reject=panic --reject=still.alive)
    set_tests_properties(guest.signals.${variant}.${name} PROPERTIES TIMEOUT 150)
  endforeach()
endforeach()
add_custom_target(signal_programs ALL DEPENDS ${signal_outputs})
