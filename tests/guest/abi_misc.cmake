# Linux ABI semantics (linux/*, docs/syscalls.md; issue 18). Every
# tests/guest/programs-abi/abi_*.c is a self-checking C program built three
# ways at build time — gcc -static, gcc -static-pie, musl-gcc -static — into
# build/abi-misc/<variant>/<name>. Each build runs twice: in the VM
# (abi_misc.<variant>.<name>, 2 vCPUs) and on the host
# (abi_misc.native.<variant>.<name>), so a check that fails on Linux is the
# program's bug, not the kernel's. A program prints one "FAIL ..." line per
# failed check and "PASS <name>: N checks" when all pass.
#
# A program needing other VM settings declares them in its first 20 lines:
#   /* abi-test: CPUS 4 MEM 256M TIMEOUT 300 */
# (the words are capsule_guest_test's options).
set(ABI_MISC_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-abi)
file(GLOB ABI_MISC_SOURCES CONFIGURE_DEPENDS ${ABI_MISC_SRC}/abi_*.c)
list(SORT ABI_MISC_SOURCES)

foreach(source IN LISTS ABI_MISC_SOURCES)
  get_filename_component(name ${source} NAME_WE)
  set(options CPUS 2 TIMEOUT 120)
  file(STRINGS ${source} decl LIMIT_COUNT 20 REGEX "abi-test:")
  if(decl)
    string(REGEX REPLACE ".*abi-test:[ ]*([^*]*).*" "\\1" decl "${decl}")
    separate_arguments(options UNIX_COMMAND "CPUS 2 TIMEOUT 120 ${decl}")
  endif()
  foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
    capsule_guest_c_program(out abi-misc ${variant} ${source} ${ABI_MISC_SRC}/check.h)
    capsule_guest_test(abi_misc.${variant}.${name} PROGRAM ${out} ${options}
      EXPECT "PASS ${name}:" REJECT FAIL panic)
    add_test(NAME abi_misc.native.${variant}.${name}
      COMMAND sh ${CMAKE_SOURCE_DIR}/tests/guest/programs/run_native.sh --one ${out} 0 "PASS ${name}:")
    set_tests_properties(abi_misc.native.${variant}.${name} PROPERTIES TIMEOUT 60 LABELS guest-programs)
  endforeach()
endforeach()
