# Debian's file tools with extended attributes (docs/vfs.md "Extended
# attributes"): setfattr, ls -l (an ACL's "+"), cp -a, tar --xattrs and
# getfattr in one VM per case, compared with the same commands on the
# host's tmpfs (tests/guest/xattr_tools/xattr_tools.py). Skipped (77)
# where the attr package is missing; `capsule test` installs it.
foreach(c ls_l cp_a tar_xattrs)
  add_test(NAME guest.xattr_tools.${c}
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/xattr_tools/xattr_tools.py
            --kernel $<TARGET_FILE:capsule.elf> --case ${c})
  set_tests_properties(guest.xattr_tools.${c} PROPERTIES TIMEOUT 200 SKIP_RETURN_CODE 77)
endforeach()
