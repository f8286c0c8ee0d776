# Thread ABI guest tests (docs/threads-abi.md): tests/guest/threads/*.c,
# each built with glibc (static, static-pie) and musl (static), run inside
# the VM on 4 vCPUs. They also pass natively on Linux (the fork-refusal and
# ENOSYS-for-PI checks adapt).
set(THR_SRC ${CMAKE_CURRENT_SOURCE_DIR}/threads)
set(THR_DIR ${CMAKE_BINARY_DIR}/guest-threads)
set(THR_PROGRAMS pthreads futex_raw clone_raw)
# program | expected output
set(THR_EXPECT_pthreads "threads: pthreads ok")
set(THR_EXPECT_futex_raw "threads: futex ok")
set(THR_EXPECT_clone_raw "threads: clone ok")

find_program(THR_GCC NAMES gcc)
find_program(THR_MUSL_GCC NAMES musl-gcc)
set(THR_VARIANTS)
if(THR_GCC)
  list(APPEND THR_VARIANTS glibc-static glibc-static-pie)
  set(THR_CC_glibc-static ${THR_GCC})
  set(THR_FLAGS_glibc-static -static)
  set(THR_CC_glibc-static-pie ${THR_GCC})
  set(THR_FLAGS_glibc-static-pie -static-pie -fPIE)
endif()
if(THR_MUSL_GCC)
  list(APPEND THR_VARIANTS musl-static)
  set(THR_CC_musl-static ${THR_MUSL_GCC})
  set(THR_FLAGS_musl-static -static)
else()
  message(WARNING "thread tests: musl-gcc not found (apt-get install musl-tools), musl variant skipped")
endif()

set(THR_OUTPUTS)
foreach(variant IN LISTS THR_VARIANTS)
  foreach(prog IN LISTS THR_PROGRAMS)
    set(out ${THR_DIR}/${variant}/${prog})
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${THR_DIR}/${variant}
      COMMAND ${THR_CC_${variant}} ${THR_FLAGS_${variant}} -O2 -Wall -pthread -o ${out} ${THR_SRC}/${prog}.c
      DEPENDS ${THR_SRC}/${prog}.c ${THR_SRC}/check.h ${THR_SRC}/futex_defs.h
      COMMENT "thread test ${variant}/${prog}"
      VERBATIM)
    list(APPEND THR_OUTPUTS ${out})
    capsule_guest_test(threads.${variant}.${prog} PROGRAM ${out} CPUS 4 TIMEOUT 180
      EXPECT "${THR_EXPECT_${prog}}" REJECT "^FAIL " "panic")
  endforeach()
endforeach()
add_custom_target(guest-threads ALL DEPENDS ${THR_OUTPUTS})
