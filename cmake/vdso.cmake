# The vDSO (linux/vdso/, docs/vdso.md): a small shared object compiled by the
# host C compiler as freestanding PIC, then embedded in the kernel image by
# core/vdso/vdso_image.S (.incbin). The build fails if it gains data or
# relocations (vdso.lds asserts; the host test and --test=vdso check the rest).
set(VDSO_DIR ${CMAKE_BINARY_DIR}/vdso)
set(VDSO_SO ${VDSO_DIR}/vdso.so)
set(VDSO_SRC ${CMAKE_SOURCE_DIR}/linux/vdso/vdso.c)
set(VDSO_LDS ${CMAKE_SOURCE_DIR}/linux/vdso/vdso.lds)
set(VDSO_CC gcc)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  set(VDSO_CC ${CMAKE_C_COMPILER})
endif()
add_custom_command(OUTPUT ${VDSO_SO}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${VDSO_DIR}
  COMMAND ${VDSO_CC} -std=gnu11 -O2 -fPIC -ffreestanding -fno-stack-protector
          -fno-asynchronous-unwind-tables -fno-unwind-tables -mgeneral-regs-only -fno-plt
          -Wall -Wextra -Werror -I${CMAKE_SOURCE_DIR}
          -nostdlib -shared -Wl,-T,${VDSO_LDS} -Wl,--hash-style=both -Wl,-soname=linux-vdso.so.1
          -Wl,--build-id=none -Wl,--no-undefined -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack
          -o ${VDSO_SO} ${VDSO_SRC}
  DEPENDS ${VDSO_SRC} ${VDSO_LDS} ${CMAKE_SOURCE_DIR}/core/vdso/vvar.h
  COMMENT "Building the vDSO (linux-vdso.so.1)")
add_custom_target(vdso_image DEPENDS ${VDSO_SO})

set_source_files_properties(${CMAKE_SOURCE_DIR}/core/vdso/vdso_image.S PROPERTIES
  OBJECT_DEPENDS ${VDSO_SO}
  COMPILE_DEFINITIONS "CAPSULE_VDSO_SO=\"${VDSO_SO}\"")
add_dependencies(capsule_core vdso_image)
if(TARGET capsule_dbg_core)
  add_dependencies(capsule_dbg_core vdso_image)
endif()
