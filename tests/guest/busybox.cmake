# Debian's busybox-static applets in the VM, compared with the host's output
# (tests/guest/busybox/busybox_test.py).
foreach(c echo seq expr printf sha256sum md5sum sort sort_numeric uniq wc awk sed head_tail gzip gunzip)
  add_test(NAME guest.busybox.${c}
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/busybox/busybox_test.py
            --kernel $<TARGET_FILE:capsule.elf> --case ${c})
  set_tests_properties(guest.busybox.${c} PROPERTIES TIMEOUT 90)
endforeach()

# busybox's file tools on a test tree (modes, mtimes, symlinks) packed into
# the initrd, compared with the same commands on the host's copy of the tree
# (tests/guest/busybox/busybox_files.py). The sh_* cases run a busybox sh
# script: they need fork/execve in the kernel (label needs-fork; until the
# kernel has them, `ctest -LE needs-fork` leaves them out).
foreach(c find_name find_type find_size find_newer find_combined du_s du_a ls_l ls_ln
          md5sum_many stat stat_missing head_c tail_c dd dd_tail tar_c tar_tv tar_xO
          gzip_tree gunzip_tree sh_tar_roundtrip sh_cp_r sh_file_ops sh_dd_seek sh_gzip_files)
  add_test(NAME guest.busybox.files.${c}
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/busybox/busybox_files.py
            --kernel $<TARGET_FILE:capsule.elf> --case ${c})
  set_tests_properties(guest.busybox.files.${c} PROPERTIES TIMEOUT 120)
  if(c MATCHES "^sh_")
    set_tests_properties(guest.busybox.files.${c} PROPERTIES LABELS needs-fork)
  endif()
endforeach()
