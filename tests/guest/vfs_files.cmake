# File system calls over the VFS (linux/sys_file.cc, docs/vfs.md): each C
# program in tests/guest/programs-vfs/ is built with gcc -static and
# musl-gcc -static into build/vfs-programs/<variant>/<name> and run in the
# VM; it prints one "FAIL ..." line per failed check and "PASS <name>" at
# the end.
capsule_guest_c_suite(vfs_files vfs-programs ${CMAKE_SOURCE_DIR}/tests/guest/programs-vfs
  PROGRAMS files)
