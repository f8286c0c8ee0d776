# ELF load plans, the initial process stack, cpio newc (docs/exec.md, docs/initrd.md).
list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/core/elf/elf.cc
  ${CMAKE_SOURCE_DIR}/linux/process/initial_stack.cc
  ${CMAKE_SOURCE_DIR}/fs/cpio/newc.cc
)
