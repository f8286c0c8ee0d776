# The kernel image, one object library per layer (docs/architecture.md):
#
#   lib <- arch <- core <- {drivers, fs} ; fs <- net ; {drivers, net} <- linux <- kernel
#
# net/ sits on fs/: sockets are descriptors on the one file path, AF_UNIX
# names are socket inodes, and SCM_RIGHTS carries open files.
#
# A layer's library sees only
#   - its own folder, through a private root build/layer-roots/<L>/<L> -> <L>
#     (so "core/mm/vma.h" resolves inside core and nowhere else), and
#   - the public headers <M>/include/<M>/ of itself and of the layers below.
# So an upward include, or a reach into another layer's private headers,
# does not compile. kernel/ (the composition root) sees every layer, private
# headers included. build/layers.json records the include folders of each
# layer; tests/layers/ checks the rule with it.
#
# Sources are globbed per layer, so adding a file to a layer needs no build
# edit.
set(CAPSULE_LAYERS lib arch core drivers fs net linux kernel)
option(CAPSULE_DEBUG_KERNEL_BUILD "Also build capsule-debug.elf, the debug kernel (docs/debug-kernel.md)" ON)
set(CAPSULE_BELOW_lib)
set(CAPSULE_BELOW_arch lib)
set(CAPSULE_BELOW_core lib arch)
set(CAPSULE_BELOW_drivers lib arch core)
set(CAPSULE_BELOW_fs lib arch core)
set(CAPSULE_BELOW_net lib arch core fs)
set(CAPSULE_BELOW_linux lib arch core drivers fs net)
set(CAPSULE_BELOW_kernel lib arch core drivers fs net linux)

# Every public include folder (host unit tests see them all).
set(CAPSULE_LAYER_INCLUDE_DIRS)
foreach(layer IN LISTS CAPSULE_LAYERS)
  list(APPEND CAPSULE_LAYER_INCLUDE_DIRS ${CMAKE_SOURCE_DIR}/${layer}/include)
endforeach()

set(KERNEL_CXX_FLAGS
  -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics
  -fno-use-cxa-atexit -nostdlib -fno-pie -fno-pic
  -mno-red-zone -mgeneral-regs-only -mcmodel=kernel
  -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
  -fstack-protector-strong -mstack-protector-guard=global
  -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections
  -Wall -Wextra -Werror=return-type -Wno-unused-parameter -O2 -g)

set(CAPSULE_LAYER_ROOTS ${CMAKE_BINARY_DIR}/layer-roots)
set(CAPSULE_LAYER_OBJECTS)
set(layers_json "{\n  \"cxx\": \"${CMAKE_CXX_COMPILER}\",\n  \"std\": \"-std=gnu++20\",\n  \"flags\": \"${KERNEL_CXX_FLAGS}\",\n  \"define\": \"CAPSULE_KERNEL=1\",\n  \"layers\": {")
set(sep "")
foreach(layer IN LISTS CAPSULE_LAYERS)
  # The private root: a folder holding one symlink named after the layer.
  file(MAKE_DIRECTORY ${CAPSULE_LAYER_ROOTS}/${layer})
  if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/${layer})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${layer} ${CAPSULE_LAYER_ROOTS}/${layer}/${layer} SYMBOLIC)
  endif()
  set(dirs ${CAPSULE_LAYER_ROOTS}/${layer})
  if(layer STREQUAL "kernel")
    foreach(below IN LISTS CAPSULE_BELOW_kernel)  # roots made earlier in this loop
      list(APPEND dirs ${CAPSULE_LAYER_ROOTS}/${below})
    endforeach()
  endif()
  foreach(m IN LISTS CAPSULE_BELOW_${layer} layer)  # the layers below, then itself
    list(APPEND dirs ${CMAKE_SOURCE_DIR}/${m}/include)
  endforeach()
  set(CAPSULE_LAYER_DIRS_${layer} ${dirs})

  string(REPLACE ";" "\", \"" dirs_json "${dirs}")
  string(APPEND layers_json "${sep}\n    \"${layer}\": [\"${dirs_json}\"]")
  set(sep ",")

  if(layer STREQUAL "arch")
    set(globs ${CMAKE_SOURCE_DIR}/arch/x64/*.cc ${CMAKE_SOURCE_DIR}/arch/x64/*.S)
  else()
    set(globs ${CMAKE_SOURCE_DIR}/${layer}/*.cc ${CMAKE_SOURCE_DIR}/${layer}/*.S)
  endif()
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${globs})
  if(NOT sources)
    continue()
  endif()
  add_library(capsule_${layer} OBJECT ${sources})
  target_compile_options(capsule_${layer} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${KERNEL_CXX_FLAGS}>
    $<$<COMPILE_LANGUAGE:ASM>:-fno-pie -D__ASSEMBLY__>)
  target_compile_definitions(capsule_${layer} PRIVATE CAPSULE_KERNEL=1)
  target_include_directories(capsule_${layer} PRIVATE ${dirs})
  list(APPEND CAPSULE_LAYER_OBJECTS capsule_${layer})
  # The debug kernel (docs/debug-kernel.md): the same sources again with
  # CAPSULE_DEBUG_KERNEL=1 (heap red zones and quarantine, the lock
  # checker, the long irq-off check), linked as capsule-debug.elf.
  if(CAPSULE_DEBUG_KERNEL_BUILD)
    add_library(capsule_dbg_${layer} OBJECT ${sources})
    target_compile_options(capsule_dbg_${layer} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:${KERNEL_CXX_FLAGS}>
      $<$<COMPILE_LANGUAGE:ASM>:-fno-pie -D__ASSEMBLY__>)
    target_compile_definitions(capsule_dbg_${layer} PRIVATE CAPSULE_KERNEL=1 CAPSULE_DEBUG_KERNEL=1)
    target_include_directories(capsule_dbg_${layer} PRIVATE ${dirs})
  endif()
endforeach()
string(APPEND layers_json "\n  }\n}\n")
file(WRITE ${CMAKE_BINARY_DIR}/layers.json "${layers_json}")

# Link order as before the split (a sorted glob of the tree: arch, core,
# drivers, fs, kernel, lib, linux): static constructors run in this order.
set(CAPSULE_LINK_ORDER arch core drivers fs kernel lib linux net)

set(KERNEL_LD ${CMAKE_SOURCE_DIR}/arch/x64/kernel.ld)
set(KERNEL_LINK_FLAGS -nostdlib -static -no-pie -Wl,-T,${KERNEL_LD}
  -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -Wl,--gc-sections -Wl,-z,noexecstack)

# Two-pass link for a symbolized panic backtrace: link once with an empty
# symbol table, list its functions, link again with the table. Text comes
# first in the image and the table last, so function addresses do not move.
#   capsule_link_kernel(NAME PREFIX) links NAME.elf from the capsule_PREFIX*
#   object libraries.
function(capsule_link_kernel name prefix)
  set(objects)
  foreach(layer IN LISTS CAPSULE_LINK_ORDER)
    if(TARGET ${prefix}${layer})
      list(APPEND objects $<TARGET_OBJECTS:${prefix}${layer}>)
    endif()
  endforeach()
  add_executable(${name}-stage1.elf ${CMAKE_SOURCE_DIR}/tools/build/empty_ksyms.S ${objects})
  set(ksyms ${CMAKE_BINARY_DIR}/${name}-ksyms.S)
  add_custom_command(OUTPUT ${ksyms}
    COMMAND nm -n --defined-only -C $<TARGET_FILE:${name}-stage1.elf> > ${CMAKE_BINARY_DIR}/${name}-ksyms.nm
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tools/build/mksyms.py ${CMAKE_BINARY_DIR}/${name}-ksyms.nm ${ksyms}
    DEPENDS ${name}-stage1.elf ${CMAKE_SOURCE_DIR}/tools/build/mksyms.py
    COMMENT "Generating the symbol table of ${name}.elf")
  add_executable(${name}.elf ${ksyms} ${objects})
  foreach(t ${name}-stage1.elf ${name}.elf)
    target_link_libraries(${t} PRIVATE gcc)
    target_link_options(${t} PRIVATE ${KERNEL_LINK_FLAGS})
    set_target_properties(${t} PROPERTIES LINK_DEPENDS ${KERNEL_LD} LINKER_LANGUAGE CXX)
  endforeach()
endfunction()

capsule_link_kernel(capsule capsule_)
if(CAPSULE_DEBUG_KERNEL_BUILD)
  capsule_link_kernel(capsule-debug capsule_dbg_)
endif()
