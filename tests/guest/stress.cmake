# Concurrent random system calls (tests/guest/stress/sysfuzz.c; issue 20,
# docs/hang_detector.md): 4 threads on 4 vCPUs, seeded. Each seed is one
# short run (seconds under TCG); the long run is `./capsule bench fuzz`.
# A call that stays in the kernel despite signals makes the program print
# "sysfuzz: HANG" with the seed and each thread's call, and end with 3.
set(STRESS_SRC ${CMAKE_CURRENT_SOURCE_DIR}/stress)
foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  if(variant STREQUAL "glibc-static-pie")
    continue()
  endif()
  capsule_guest_c_program(out stress ${variant} ${STRESS_SRC}/sysfuzz.c)
  set(STRESS_PROGRAM_${variant} ${out})
endforeach()
if(STRESS_PROGRAM_glibc-static)
  foreach(seed 1 2 3 4 5 6)
    capsule_guest_test(stress.sysfuzz.seed${seed} PROGRAM ${STRESS_PROGRAM_glibc-static} CPUS 4 MEM 256M
      TIMEOUT 180 ARGS -s ${seed} -t 4 -n 5000 -w 60
      EXPECT "sysfuzz: seed ${seed}: [0-9]+ calls" "PASS sysfuzz" REJECT "sysfuzz: (HANG|FAIL)" panic)
  endforeach()
endif()
if(STRESS_PROGRAM_musl-static)
  capsule_guest_test(stress.sysfuzz.musl.seed1 PROGRAM ${STRESS_PROGRAM_musl-static} CPUS 4 MEM 256M
    TIMEOUT 180 ARGS -s 1 -t 4 -n 5000 -w 60
    EXPECT "sysfuzz: seed 1: [0-9]+ calls" "PASS sysfuzz" REJECT "sysfuzz: (HANG|FAIL)" panic)
endif()
