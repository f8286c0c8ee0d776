# The rest of the Linux file family (docs/vfs.md: statx/statfs, chmod/chown/
# utimes, preadv2/pwritev2, fallocate, locks, memfd, sendfile/splice...).
# Each C program in tests/guest/programs-files/ is built with glibc and
# musl (static) into build/files-programs/<variant>/<name> and run in the
# VM on 1 and 4 CPUs; it prints one "FAIL ..." line per failed check and
# "PASS <name>" at the end. The programs also pass natively on Linux.
capsule_guest_c_suite(files_abi files-programs ${CMAKE_SOURCE_DIR}/tests/guest/programs-files
  PROGRAMS attrs io locks memfd mount paths splice xattr
  HEADERS ${CMAKE_SOURCE_DIR}/tests/guest/programs-files/check.h)
