list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/core/vdso/vdso_elf.cc
)
