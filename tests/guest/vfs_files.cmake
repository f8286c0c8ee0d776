# File system calls over the VFS (linux/sys_file.cc, docs/vfs.md): each C
# program in tests/guest/programs-vfs/ is built with gcc -static and
# musl-gcc -static into build/vfs-programs/<variant>/<name> and run in the
# VM; it prints one "FAIL ..." line per failed check and "PASS <name>" at
# the end.
set(VFS_PROGRAMS files)
set(VFS_PROGRAMS_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-vfs)

foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  if(variant STREQUAL "glibc-static-pie")
    continue()  # the loader path is the same as glibc-static's
  endif()
  foreach(name IN LISTS VFS_PROGRAMS)
    capsule_guest_c_program(out vfs-programs ${variant} ${VFS_PROGRAMS_SRC}/${name}.c)
    foreach(cpus 1 4)
      capsule_guest_test(vfs_files.${variant}.${name}.cpus${cpus} PROGRAM ${out} CPUS ${cpus} MEM 256M
        TIMEOUT 120 EXPECT "PASS ${name}" REJECT FAIL panic)
    endforeach()
  endforeach()
endforeach()
