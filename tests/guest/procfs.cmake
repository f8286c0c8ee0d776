# Pseudo file systems (fs/devfs, fs/procfs, fs/sysfs, linux/procfs_*.cc,
# docs/pseudo-fs.md): the C programs in tests/guest/programs-procfs/ (which
# pass natively on Linux too) in each libc, on 1 and 4 CPUs; and busybox's
# procfs readers (cat /proc/cpuinfo, free, mount, nproc, uptime, ps, df).
set(PSEUDOFS_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-procfs)

foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  if(variant STREQUAL "glibc-static-pie")
    continue()  # the loader path is the same as glibc-static's
  endif()
  capsule_guest_c_program(procfs_prog procfs-programs ${variant} ${PSEUDOFS_SRC}/procfs.c ${PSEUDOFS_SRC}/check.h)
  capsule_guest_c_program(devfs_prog procfs-programs ${variant} ${PSEUDOFS_SRC}/devfs.c ${PSEUDOFS_SRC}/check.h)
  foreach(cpus 1 4)
    capsule_guest_test(procfs.${variant}.cpus${cpus} PROGRAM ${procfs_prog} CPUS ${cpus} MEM 256M
      TIMEOUT 120 ARGS cpus=${cpus} mem=256 "two words" EXPECT "PASS procfs" REJECT FAIL panic)
    capsule_guest_test(devfs.${variant}.cpus${cpus} PROGRAM ${devfs_prog} CPUS ${cpus} MEM 256M
      TIMEOUT 120 EXPECT "PASS devfs" REJECT FAIL panic)
  endforeach()
endforeach()

foreach(c cpuinfo free mount nproc uptime ps df)
  foreach(cpus 1 4)
    add_test(NAME guest.procfs.busybox.${c}.cpus${cpus}
      COMMAND python3 ${PSEUDOFS_SRC}/busybox_procfs.py --kernel $<TARGET_FILE:capsule.elf> --case ${c} --cpus ${cpus})
    set_tests_properties(guest.procfs.busybox.${c}.cpus${cpus} PROPERTIES TIMEOUT 90)
  endforeach()
endforeach()
