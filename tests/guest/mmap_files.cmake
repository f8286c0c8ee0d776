# mmap(2) of files (linux/sys_mm.cc, core/mm, docs/address-space.md): the C
# programs in tests/guest/programs-mmap/ are built static with glibc and
# musl and run on 1 and 4 CPUs; each prints one "FAIL ..." line per failed
# check and "PASS <name>" at the end. They pass on the host's Linux too.
set(MMAP_PROGRAMS mmap_files)
set(MMAP_PROGRAMS_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-mmap)

foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  if(variant STREQUAL "glibc-static-pie")
    continue()  # the loader path is the same as glibc-static's
  endif()
  foreach(name IN LISTS MMAP_PROGRAMS)
    capsule_guest_c_program(out mmap-programs ${variant} ${MMAP_PROGRAMS_SRC}/${name}.c)
    foreach(cpus 1 4)
      capsule_guest_test(mmap_files.${variant}.${name}.cpus${cpus} PROGRAM ${out} CPUS ${cpus} MEM 256M
        TIMEOUT 120 EXPECT "PASS ${name}" REJECT FAIL panic)
    endforeach()
  endforeach()
endforeach()
