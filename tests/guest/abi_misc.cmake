# Linux ABI: memory, time, identity and limits (linux/sys_mm.cc,
# linux/sys_time.cc, linux/sys_ident.cc, linux/sys_limits.cc;
# docs/syscalls.md). Each C program in tests/guest/programs-abi/ is built
# three ways at build time — gcc -static, gcc -static-pie, musl-gcc -static —
# into build/abi-misc/<variant>/<name> and run in the VM; it prints one
# "FAIL ..." line per failed check and exits 0 only when all pass.
set(ABI_MISC_PROGRAMS abi_mm abi_time abi_ident abi_limits)
set(ABI_MISC_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-abi)
find_program(ABI_MISC_GCC gcc)
find_program(ABI_MISC_MUSL_GCC musl-gcc)

set(abi_misc_variants)
if(ABI_MISC_GCC)
  list(APPEND abi_misc_variants glibc-static glibc-static-pie)
endif()
if(ABI_MISC_MUSL_GCC)
  list(APPEND abi_misc_variants musl-static)
else()
  message(STATUS "musl-gcc not found: the musl variants of the ABI tests are skipped (apt-get install musl-tools)")
endif()

set(abi_misc_outputs)
foreach(variant IN LISTS abi_misc_variants)
  if(variant STREQUAL "glibc-static")
    set(cc ${ABI_MISC_GCC})
    set(link -static)
  elseif(variant STREQUAL "glibc-static-pie")
    set(cc ${ABI_MISC_GCC})
    set(link -static-pie -fPIE)
  else()
    set(cc ${ABI_MISC_MUSL_GCC})
    set(link -static)
  endif()
  foreach(name IN LISTS ABI_MISC_PROGRAMS)
    set(out ${CMAKE_BINARY_DIR}/abi-misc/${variant}/${name})
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/abi-misc/${variant}
      COMMAND ${cc} ${link} -O2 -Wall -o ${out} ${ABI_MISC_SRC}/${name}.c
      DEPENDS ${ABI_MISC_SRC}/${name}.c ${ABI_MISC_SRC}/check.h
      COMMENT "abi-misc: ${variant}/${name}"
      VERBATIM)
    list(APPEND abi_misc_outputs ${out})
    add_test(NAME guest.abi_misc.${variant}.${name}
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/run_guest.py
        --kernel $<TARGET_FILE:capsule.elf> --status 0 --timeout 120 --machine microvm --cpus 1 --mem 128M
        --program ${out} "--expect=PASS ${name}:" --reject=FAIL --reject=panic)
    set_tests_properties(guest.abi_misc.${variant}.${name} PROPERTIES TIMEOUT 150)
  endforeach()
endforeach()
add_custom_target(abi_misc_programs ALL DEPENDS ${abi_misc_outputs})
