# Linux ABI: memory, time, identity and limits (linux/sys_mm.cc,
# linux/sys_time.cc, linux/sys_ident.cc, linux/sys_limits.cc,
# linux/sys_capability.cc;
# docs/syscalls.md). Each C program in tests/guest/programs-abi/ is built
# three ways at build time — gcc -static, gcc -static-pie, musl-gcc -static —
# into build/abi-misc/<variant>/<name> and run in the VM; it prints one
# "FAIL ..." line per failed check and exits 0 only when all pass.
set(ABI_MISC_PROGRAMS abi_mm abi_time abi_ident abi_limits abi_caps)
set(ABI_MISC_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-abi)

foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  foreach(name IN LISTS ABI_MISC_PROGRAMS)
    capsule_guest_c_program(out abi-misc ${variant} ${ABI_MISC_SRC}/${name}.c ${ABI_MISC_SRC}/check.h)
    capsule_guest_test(abi_misc.${variant}.${name} PROGRAM ${out} TIMEOUT 120
      EXPECT "PASS ${name}:" REJECT FAIL panic)
  endforeach()
endforeach()
