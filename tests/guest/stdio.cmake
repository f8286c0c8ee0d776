# The program's stdio through `capsule run` (docs/console.md): virtio-console
# ports to the CLI's stdout/stderr/stdin, exit statuses, and the terminal
# path on a pty. tests/cli/stdio_test.py runs each case on the host first
# (the reference) and then in the VM, on microvm and q35.
if(NOT CAPSULE_GUEST_GCC)
  return()
endif()
set(STDIO_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-stdio)
capsule_guest_c_program(stdio_streams stdio-programs glibc-static ${STDIO_SRC}/streams.c)
capsule_guest_c_program(stdio_tty_line stdio-programs glibc-static ${STDIO_SRC}/tty_line.c)
set(stdio_args --capsule ${CMAKE_SOURCE_DIR}/capsule --streams ${stdio_streams} --tty-line ${stdio_tty_line})
add_test(NAME cli.stdio.native
  COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/cli/stdio_test.py ${stdio_args} --native)
foreach(machine microvm q35)
  add_test(NAME cli.stdio.${machine}
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/cli/stdio_test.py ${stdio_args} --machine ${machine})
  set_tests_properties(cli.stdio.${machine} PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "PASS stdio"
    FAIL_REGULAR_EXPRESSION "FAIL")
endforeach()
set_tests_properties(cli.stdio.native PROPERTIES TIMEOUT 120 PASS_REGULAR_EXPRESSION "PASS stdio")
