# File system calls over the VFS (linux/sys_file.cc, docs/vfs.md): each C
# program in tests/guest/programs-vfs/ is built with gcc -static and
# musl-gcc -static into build/vfs-programs/<variant>/<name> and run in the
# VM; it prints one "FAIL ..." line per failed check and "PASS <name>" at
# the end.
set(VFS_PROGRAMS files)
set(VFS_PROGRAMS_SRC ${CMAKE_SOURCE_DIR}/tests/guest/programs-vfs)
find_program(VFS_GCC gcc)
find_program(VFS_MUSL_GCC musl-gcc)

set(vfs_variants)
if(VFS_GCC)
  list(APPEND vfs_variants glibc-static)
endif()
if(VFS_MUSL_GCC)
  list(APPEND vfs_variants musl-static)
endif()

set(vfs_program_outputs)
foreach(variant IN LISTS vfs_variants)
  if(variant STREQUAL "glibc-static")
    set(cc ${VFS_GCC})
  else()
    set(cc ${VFS_MUSL_GCC})
  endif()
  foreach(name IN LISTS VFS_PROGRAMS)
    set(out ${CMAKE_BINARY_DIR}/vfs-programs/${variant}/${name})
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/vfs-programs/${variant}
      COMMAND ${cc} -static -O2 -Wall -pthread -o ${out} ${VFS_PROGRAMS_SRC}/${name}.c
      DEPENDS ${VFS_PROGRAMS_SRC}/${name}.c
      COMMENT "vfs-programs: ${variant}/${name}"
      VERBATIM)
    list(APPEND vfs_program_outputs ${out})
    foreach(cpus 1 4)
      add_test(NAME guest.vfs_files.${variant}.${name}.cpus${cpus}
        COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/run_guest.py
          --kernel $<TARGET_FILE:capsule.elf> --status 0 --timeout 120 --machine microvm --cpus ${cpus} --mem 256M
          --program ${out} "--expect=PASS ${name}" --reject=FAIL --reject=panic)
      set_tests_properties(guest.vfs_files.${variant}.${name}.cpus${cpus} PROPERTIES TIMEOUT 150)
    endforeach()
  endforeach()
endforeach()
add_custom_target(vfs_programs ALL DEPENDS ${vfs_program_outputs})
