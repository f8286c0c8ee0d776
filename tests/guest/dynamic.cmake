# Dynamically linked programs (linux/process/process.cc PT_INTERP, docs/exec.md):
# tests/guest/dynamic/dynamic_test.py packs the program, its loader and the
# libraries ldd lists into an initrd.
#  - dyn_hello.c built with plain gcc (glibc, PIE) and musl-gcc (musl's
#    dynamic loader): prints, checks AT_BASE/AT_ENTRY/AT_PHDR, exits with
#    the status it is given; 1 and 4 CPUs.
#  - Debian programs run on fixed input; stdout and exit status must equal
#    the host's. Programs not installed are skipped (exit 77).
set(DYN_SRC ${CMAKE_SOURCE_DIR}/tests/guest/dynamic)
set(DYN_TEST ${DYN_SRC}/dynamic_test.py)

set(dyn_variants)
if(CAPSULE_GUEST_GCC)
  list(APPEND dyn_variants glibc)
endif()
if(CAPSULE_GUEST_MUSL_GCC)
  list(APPEND dyn_variants musl)
endif()
foreach(variant IN LISTS dyn_variants)
  if(variant STREQUAL "glibc")
    set(cc ${CAPSULE_GUEST_GCC})
  else()
    set(cc ${CAPSULE_GUEST_MUSL_GCC})
  endif()
  set(out ${CMAKE_BINARY_DIR}/dynamic-programs/${variant}/dyn_hello)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/dynamic-programs/${variant}
    COMMAND ${cc} -O2 -Wall -o ${out} ${DYN_SRC}/dyn_hello.c
    DEPENDS ${DYN_SRC}/dyn_hello.c
    COMMENT "guest program dynamic-programs/${variant}/dyn_hello (dynamically linked)"
    VERBATIM)
  add_custom_target(guest-program-dynamic-${variant}-dyn_hello ALL DEPENDS ${out})
  foreach(cpus 1 4)
    add_test(NAME guest.dynamic.${variant}.hello.cpus${cpus}
      COMMAND python3 ${DYN_TEST} --kernel $<TARGET_FILE:capsule.elf> --program ${out}
              --cpus ${cpus} --expect-status 42 --expect "hello from a dynamic program, 2 args"
              --expect "PASS dyn_hello" --args 42)
    set_tests_properties(guest.dynamic.${variant}.hello.cpus${cpus} PROPERTIES TIMEOUT 150)
  endforeach()
  # Exec resolves the program through the VFS: a symlink to it works.
  add_test(NAME guest.dynamic.${variant}.hello_symlink
    COMMAND python3 ${DYN_TEST} --kernel $<TARGET_FILE:capsule.elf> --program ${out}
            --link /usr/local/bin/hello --expect-status 3 --expect "PASS dyn_hello" --args 3)
  # Without its loader the program cannot start: 127, and the kernel says why.
  add_test(NAME guest.dynamic.${variant}.no_interpreter
    COMMAND python3 ${DYN_TEST} --kernel $<TARGET_FILE:capsule.elf> --program ${out} --no-libs
            --expect-status 127 --expect "interpreter '[^']+' not found")
  # A loader that is not one: a text file, a program with its own
  # interpreter. 126 (found, cannot run) and the reason.
  add_test(NAME guest.dynamic.${variant}.interpreter_not_elf
    COMMAND python3 ${DYN_TEST} --kernel $<TARGET_FILE:capsule.elf> --program ${out} --no-libs
            --fake-interp ${DYN_SRC}/dyn_hello.c
            --expect-status 126 --expect "interpreter '[^']+' is not a loadable x86-64 ELF program: ")
  add_test(NAME guest.dynamic.${variant}.interpreter_with_interpreter
    COMMAND python3 ${DYN_TEST} --kernel $<TARGET_FILE:capsule.elf> --program ${out} --no-libs
            --fake-interp ${out}
            --expect-status 126 --expect "is not a shared object without an interpreter")
  set_tests_properties(guest.dynamic.${variant}.hello_symlink guest.dynamic.${variant}.no_interpreter
    guest.dynamic.${variant}.interpreter_not_elf guest.dynamic.${variant}.interpreter_with_interpreter
    PROPERTIES TIMEOUT 150)
endforeach()

foreach(c busybox busybox_pipeline dash_pipeline dash_script bash_script python3_fork python3_subprocess python3_mp_pool
          python3_mp_primitives python3_process_pool python3 python3_stdlib python3_socketpair
          python3_asyncio_unix python3_http_loopback python3_http_v6 sqlite3 lua5.4 perl gawk jq bc xz zstd sort sha256sum
          grep sed gzip bzip2 od diff date openssl ls stat pty_python3 pty_script)
  add_test(NAME guest.dynamic.debian.${c}
    COMMAND python3 ${DYN_TEST} --kernel $<TARGET_FILE:capsule.elf> --case ${c})
  set_tests_properties(guest.dynamic.debian.${c} PROPERTIES TIMEOUT 200 SKIP_RETURN_CODE 77)
endforeach()
# On 4 CPUs: a threaded program, the biggest one, and processes (multiprocessing's
# Pool(4) and ProcessPoolExecutor(4) as Python's users run them, and both sides
# of a pseudo-terminal on different CPUs).
foreach(c xz_threads python3_stdlib dash_pipeline bash_script python3_subprocess python3_mp_pool
          python3_mp_primitives python3_process_pool pty_python3 pty_script)
  add_test(NAME guest.dynamic.debian.${c}.cpus4
    COMMAND python3 ${DYN_TEST} --kernel $<TARGET_FILE:capsule.elf> --case ${c} --cpus 4)
  set_tests_properties(guest.dynamic.debian.${c}.cpus4 PROPERTIES TIMEOUT 200 SKIP_RETURN_CODE 77)
endforeach()
