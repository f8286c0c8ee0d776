# Debian's busybox-static applets in the VM, compared with the host's output
# (tests/guest/busybox/busybox_test.py).
foreach(c echo seq expr printf sha256sum md5sum sort sort_numeric uniq wc awk sed head_tail gzip gunzip)
  add_test(NAME guest.busybox.${c}
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/busybox/busybox_test.py
            --kernel $<TARGET_FILE:capsule.elf> --case ${c})
  set_tests_properties(guest.busybox.${c} PROPERTIES TIMEOUT 90)
endforeach()
