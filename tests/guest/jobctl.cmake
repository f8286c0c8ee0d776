# Job control on the console (linux/console_file.cc, docs/process.md "Job
# control"): tests/guest/programs-jobctl/jobctl.c on a pseudo-terminal,
# natively first, then in the VM through the CLI.
capsule_guest_c_program(jobctl_prog jobctl-programs glibc-static ${CMAKE_SOURCE_DIR}/tests/guest/programs-jobctl/jobctl.c)
foreach(cpus 1 4)
  add_test(NAME guest.jobctl.glibc-static.cpus${cpus}
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/programs-jobctl/jobctl_test.py --capsule ${CMAKE_SOURCE_DIR}/capsule
            --program ${jobctl_prog} --cpus ${cpus})
  set_tests_properties(guest.jobctl.glibc-static.cpus${cpus} PROPERTIES TIMEOUT 240 LABELS "cli;guest"
    ENVIRONMENT "CAPSULE_CACHE=${CMAKE_BINARY_DIR}/cli-cache;CAPSULE_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()

# An interactive shell's job control on a terminal (docs/process.md "Stop
# and continue"): Debian's bash -i driven on a pseudo-terminal, on the host
# then in the VM through the CLI; the job lines must be the same.
foreach(cpus 1 4)
  add_test(NAME guest.jobctl.bash.cpus${cpus}
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/programs-jobctl/shell_test.py --capsule ${CMAKE_SOURCE_DIR}/capsule
            --cpus ${cpus})
  set_tests_properties(guest.jobctl.bash.cpus${cpus} PROPERTIES TIMEOUT 400 LABELS "cli;guest" SKIP_RETURN_CODE 77
    ENVIRONMENT "CAPSULE_CACHE=${CMAKE_BINARY_DIR}/cli-cache;CAPSULE_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()
