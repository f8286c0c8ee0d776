# The rest of the Linux file family (docs/vfs.md: statx/statfs, chmod/chown/
# utimes, preadv2/pwritev2, fallocate, locks, memfd, sendfile/splice...).
# Each C program in tests/guest/programs-files/ is built with glibc and
# musl (static) into build/files-programs/<variant>/<name> and run in the
# VM on 1 and 4 CPUs; it prints one "FAIL ..." line per failed check and
# "PASS <name>" at the end. The programs also pass natively on Linux.
set(FILES_ABI_PROGRAMS attrs io locks memfd mount paths splice)
set(FILES_ABI_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-files)

foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  if(variant STREQUAL "glibc-static-pie")
    continue()  # the loader path is the same as glibc-static's
  endif()
  foreach(name IN LISTS FILES_ABI_PROGRAMS)
    capsule_guest_c_program(out files-programs ${variant} ${FILES_ABI_SRC}/${name}.c ${FILES_ABI_SRC}/check.h)
    foreach(cpus 1 4)
      capsule_guest_test(files_abi.${variant}.${name}.cpus${cpus} PROGRAM ${out} CPUS ${cpus} MEM 256M
        TIMEOUT 120 EXPECT "PASS ${name}" REJECT FAIL panic)
    endforeach()
  endforeach()
endforeach()
