# The stress tests on the debug kernel (docs/debug-kernel.md): the same
# programs as stress.cmake (after it: the file name sorts later), any
# report of the debug kernel failing them (DEBUG_REPORTS, from
# debug_kernel.cmake). --irq-off-max-ms=2000: under TCG on a loaded host a
# vCPU can wait long for a host CPU; only windows that long are reported.
if(NOT TARGET capsule-debug.elf)
  return()
endif()
set(DK_STRESS_REJECT panic ${DEBUG_REPORTS})
if(STRESS_PROGRAM_glibc-static)
  capsule_guest_test(stress.debug.sysfuzz DEBUG_KERNEL PROGRAM ${STRESS_PROGRAM_glibc-static} CPUS 4 MEM 256M
    TIMEOUT 180 CMDLINE --irq-off-max-ms=2000 ARGS -s 1 -t 4 -n 3000 -w 60
    EXPECT "sysfuzz: seed 1: [0-9]+ calls" "PASS sysfuzz" REJECT "sysfuzz: (HANG|FAIL)" ${DK_STRESS_REJECT})
endif()
if(procleak_out)
  # 100 children a round, not 300: the debug heap's checks make each fork
  # and exit slower. 16 kB of growth allowed, not 8: the debug heap's
  # quarantine keeps slab pages counted (procleak.c says why that still
  # catches a leak of an object per child).
  capsule_guest_test(stress.debug.procleak DEBUG_KERNEL PROGRAM ${procleak_out} CPUS 2 TIMEOUT 300
    CMDLINE --irq-off-max-ms=2000 ARGS 100 16
    EXPECT "procleak: round 4" "PASS procleak" REJECT "FAIL" ${DK_STRESS_REJECT})
endif()
capsule_guest_test(stress.debug.futex DEBUG_KERNEL CMDLINE --test=futex --irq-off-max-ms=2000 CPUS 4 TIMEOUT 240
  EXPECT "futex.stress: 48 waiters x 100 generations" "ktest: 11 passed, 0 failed"
  REJECT "FAILED" ${DK_STRESS_REJECT})
