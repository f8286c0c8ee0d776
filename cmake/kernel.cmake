# Layers, bottom up (docs/architecture.md). Each layer's public headers live
# in <layer>/include/<layer>/ and are included as "<layer>/name.h"; private
# headers sit beside their sources, spelled from the repo root.
set(CAPSULE_LAYERS lib arch core drivers fs net linux kernel)
set(CAPSULE_LAYER_INCLUDE_DIRS)
foreach(layer IN LISTS CAPSULE_LAYERS)
  if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/${layer}/include)
    list(APPEND CAPSULE_LAYER_INCLUDE_DIRS ${CMAKE_SOURCE_DIR}/${layer}/include)
  endif()
endforeach()

# The kernel image: every .cc/.S under arch/x64, core, drivers, fs, lib, linux
# and kernel.
# Sources are globbed so that adding a file to a layer needs no build edit.
file(GLOB_RECURSE KERNEL_SOURCES CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/arch/x64/*.cc ${CMAKE_SOURCE_DIR}/arch/x64/*.S
  ${CMAKE_SOURCE_DIR}/core/*.cc ${CMAKE_SOURCE_DIR}/core/*.S
  ${CMAKE_SOURCE_DIR}/drivers/*.cc ${CMAKE_SOURCE_DIR}/drivers/*.S
  ${CMAKE_SOURCE_DIR}/fs/*.cc
  ${CMAKE_SOURCE_DIR}/lib/*.cc
  ${CMAKE_SOURCE_DIR}/linux/*.cc ${CMAKE_SOURCE_DIR}/linux/*.S
  ${CMAKE_SOURCE_DIR}/kernel/*.cc)

set(KERNEL_CXX_FLAGS
  -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics
  -fno-use-cxa-atexit -nostdlib -fno-pie -fno-pic
  -mno-red-zone -mgeneral-regs-only -mcmodel=kernel
  -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
  -fstack-protector-strong -mstack-protector-guard=global
  -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections
  -Wall -Wextra -Werror=return-type -Wno-unused-parameter -O2 -g)

add_library(kernel_objs OBJECT ${KERNEL_SOURCES})
target_compile_options(kernel_objs PRIVATE
  $<$<COMPILE_LANGUAGE:CXX>:${KERNEL_CXX_FLAGS}>
  $<$<COMPILE_LANGUAGE:ASM>:-fno-pie -D__ASSEMBLY__>)
target_compile_definitions(kernel_objs PRIVATE CAPSULE_KERNEL=1)
target_include_directories(kernel_objs PRIVATE ${CAPSULE_LAYER_INCLUDE_DIRS} ${CMAKE_SOURCE_DIR})

set(KERNEL_LD ${CMAKE_SOURCE_DIR}/arch/x64/kernel.ld)
set(KERNEL_LINK_FLAGS -nostdlib -static -no-pie -Wl,-T,${KERNEL_LD}
  -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -Wl,--gc-sections -Wl,-z,noexecstack)

# Two-pass link for a symbolized panic backtrace: link once with an empty
# symbol table, list its functions, link again with the table. Text comes
# first in the image and the table last, so function addresses do not move.
add_executable(capsule-stage1.elf ${CMAKE_SOURCE_DIR}/tools/build/empty_ksyms.S)
target_link_libraries(capsule-stage1.elf PRIVATE kernel_objs gcc)
target_link_options(capsule-stage1.elf PRIVATE ${KERNEL_LINK_FLAGS})
set_target_properties(capsule-stage1.elf PROPERTIES LINK_DEPENDS ${KERNEL_LD})

set(KSYMS_S ${CMAKE_BINARY_DIR}/ksyms.S)
add_custom_command(OUTPUT ${KSYMS_S}
  COMMAND nm -n --defined-only -C $<TARGET_FILE:capsule-stage1.elf> > ${CMAKE_BINARY_DIR}/ksyms.nm
  COMMAND python3 ${CMAKE_SOURCE_DIR}/tools/build/mksyms.py ${CMAKE_BINARY_DIR}/ksyms.nm ${KSYMS_S}
  DEPENDS capsule-stage1.elf ${CMAKE_SOURCE_DIR}/tools/build/mksyms.py
  COMMENT "Generating kernel symbol table")

add_executable(capsule.elf ${KSYMS_S})
target_link_libraries(capsule.elf PRIVATE kernel_objs gcc)
target_link_options(capsule.elf PRIVATE ${KERNEL_LINK_FLAGS})
set_target_properties(capsule.elf PROPERTIES LINK_DEPENDS ${KERNEL_LD})
foreach(t capsule-stage1.elf capsule.elf)
  set_target_properties(${t} PROPERTIES LINKER_LANGUAGE CXX)
endforeach()
