# mmap(2) of files (linux/sys_mm.cc, core/mm, docs/address-space.md): the C
# programs in tests/guest/programs-mmap/ are built static with glibc and
# musl and run on 1 and 4 CPUs; each prints one "FAIL ..." line per failed
# check and "PASS <name>" at the end. They pass on the host's Linux too.
capsule_guest_c_suite(mmap_files mmap-programs ${CMAKE_SOURCE_DIR}/tests/guest/programs-mmap
  PROGRAMS mmap_files)
