# Thread ABI guest tests (docs/threads-abi.md): tests/guest/threads/*.c,
# each built with glibc (static, static-pie) and musl (static), run inside
# the VM on 4 vCPUs. They also pass natively on Linux (the fork-refusal and
# ENOSYS-for-PI checks adapt).
set(THR_SRC ${CMAKE_CURRENT_SOURCE_DIR}/threads)
set(THR_PROGRAMS pthreads futex_raw clone_raw)
set(THR_EXPECT_pthreads "threads: pthreads ok")
set(THR_EXPECT_futex_raw "threads: futex ok")
set(THR_EXPECT_clone_raw "threads: clone ok")

foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  foreach(prog IN LISTS THR_PROGRAMS)
    capsule_guest_c_program(out guest-threads ${variant} ${THR_SRC}/${prog}.c ${THR_SRC}/check.h ${THR_SRC}/futex_defs.h)
    capsule_guest_test(threads.${variant}.${prog} PROGRAM ${out} CPUS 4 TIMEOUT 180
      EXPECT "${THR_EXPECT_${prog}}" REJECT "^FAIL " "panic")
  endforeach()
endforeach()
