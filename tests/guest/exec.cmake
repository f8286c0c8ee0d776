# execve/execveat and command sequences (linux/sys_exec.cc, linux/process/process.cc,
# docs/exec.md, docs/cmdline.md). Programs in tests/guest/programs-exec/:
#  - exec_chain: error cases with threads running, then a chain of images
#    (exec from a second thread, a "#!" script, execveat on a descriptor),
#    each checking what execve kept and reset; static glibc, static-pie and
#    musl, 1 and 4 CPUs;
#  - exec_loop: 300 execs in a 64 MiB VM (the old images' memory is freed);
#  - seq_step: the steps of `-- a ; b ; c` sequences (order, shared files,
#    && semantics, fresh process state, a literal "\;"), and an execve
#    launcher for a dynamically linked program.
# A ";" argument is written $<SEMICOLON> here (";" separates CMake lists).
set(EXEC_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-exec)
set(S $<SEMICOLON>)

foreach(variant IN LISTS CAPSULE_GUEST_VARIANTS)
  capsule_guest_c_program(chain exec-programs ${variant} ${EXEC_SRC}/exec_chain.c)
  foreach(cpus 1 4)
    capsule_guest_test(exec.${variant}.chain.cpus${cpus} PROGRAM ${chain} CPUS ${cpus} MEM 256M TIMEOUT 120
      EXPECT "stage start: 0 failures" "stage after: 0 failures" "stage script: 0 failures"
             "PASS exec_chain" REJECT FAIL panic)
  endforeach()
  # 300 execs of an image that touches 8 MiB, in 64 MiB: old images are freed.
  capsule_guest_c_program(loop exec-programs ${variant} ${EXEC_SRC}/exec_loop.c)
  capsule_guest_test(exec.${variant}.loop PROGRAM ${loop} CPUS 2 MEM 64M TIMEOUT 120
    EXPECT "PASS exec_loop" REJECT FAIL panic)
endforeach()

if(CAPSULE_GUEST_GCC)
  capsule_guest_c_program(step exec-programs glibc-static ${EXEC_SRC}/seq_step.c)
  # In order, sharing the file system; the VM's status is the last one's (0).
  capsule_guest_test(exec.seq.order PROGRAM ${step}
    ARGS write /seq-f one ${S} /seq_step append /seq-f two ${S} /seq_step cat /seq-f
    EXPECT "^cat: one$" "^cat: two$" REJECT FAIL panic)
  # && semantics: a failing command ends the sequence with its status.
  capsule_guest_test(exec.seq.stops_on_failure PROGRAM ${step} STATUS 3
    ARGS exit 0 ${S} /seq_step exit 3 ${S} /seq_step exit 0
    EXPECT "^exit 0$" "^exit 3$" REJECT "(?s)exit 0.*exit 0" FAIL panic)
  # A missing program in the middle: 127, as for the first.
  capsule_guest_test(exec.seq.missing PROGRAM ${step} STATUS 127
    ARGS exit 0 ${S} /nonexistent ${S} /seq_step exit 5
    EXPECT "^exit 0$" "not found" REJECT "exit 5" panic)
  # "\;" is a literal ";" argument; a ";" inside a word is nothing special.
  capsule_guest_test(exec.seq.literal PROGRAM ${step}
    ARGS argv a "\\${S}" b${S}c ${S} /seq_step argv next
    EXPECT "^arg.0.=<a>$" "^arg.1.=<${S}>$" "^arg.2.=<b${S}c>$" "^arg.0.=<next>$" REJECT FAIL panic)
  # Each command starts as a fresh process, even after one that left
  # descriptors, a working directory, signal state and running threads.
  foreach(cpus 1 4)
    capsule_guest_test(exec.seq.fresh.cpus${cpus} PROGRAM ${step} CPUS ${cpus}
      ARGS dirty ${S} /seq_step fresh ${S} /seq_step dirty ${S} /seq_step fresh
      EXPECT "^dirty done$" "^fresh ok$" "^dirty done$" "^fresh ok$" REJECT FAIL panic)
  endforeach()
  capsule_guest_test(exec.seq.fresh_cwd PROGRAM ${step} CMDLINE --cwd=/etc-seq ADD ${EXEC_SRC}:/etc-seq
    ARGS fresh /etc-seq ${S} /seq_step dirty ${S} /seq_step fresh /etc-seq
    EXPECT "^fresh ok$" "^dirty done$" "^fresh ok$" REJECT FAIL panic)
  # execve of a dynamically linked program (glibc's loader and libc packed).
  set(dyn ${CMAKE_BINARY_DIR}/dynamic-programs/glibc/dyn_hello)
  set(ld /lib64/ld-linux-x86-64.so.2)
  set(libc /lib/x86_64-linux-gnu/libc.so.6)
  if(EXISTS ${ld} AND EXISTS ${libc})
    file(REAL_PATH ${ld} ld_file)  # the files, not Debian's symlinks to them
    file(REAL_PATH ${libc} libc_file)
    foreach(cpus 1 4)
      capsule_guest_test(exec.dynamic.cpus${cpus} PROGRAM ${step} CPUS ${cpus} STATUS 42 MEM 256M
        ADD ${dyn}:/dyn_hello ${ld_file}:${ld} ${libc_file}:${libc}
        ARGS exec /dyn_hello 42
        EXPECT "hello from a dynamic program, 2 args" "PASS dyn_hello" REJECT FAIL panic)
    endforeach()
  endif()
endif()

# `capsule run PROG ARGS \; PROG2 ARGS2`: the CLI passes a lone ";" through
# and packs each command's program; '\;' is a literal ";" argument.
if(EXISTS /bin/busybox)
  add_test(NAME guest.exec.cli_sequence
    COMMAND ${CMAKE_SOURCE_DIR}/capsule run busybox echo first ${S} busybox echo "\\${S}" ${S} busybox echo last)
  set_tests_properties(guest.exec.cli_sequence PROPERTIES TIMEOUT 300 LABELS "cli;guest"
    PASS_REGULAR_EXPRESSION "first\n[^a-z\n]\nlast\n"  # the middle line is ";"
    ENVIRONMENT "CAPSULE_CACHE=${CMAKE_BINARY_DIR}/cli-cache;CAPSULE_BUILD_DIR=${CMAKE_BINARY_DIR}")
endif()
