# Kernel sources that are pure logic and therefore also compile for the host,
# where GoogleTest exercises them. One line per file.
set(HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/lib/format.cc
  ${CMAKE_SOURCE_DIR}/lib/result.cc
  ${CMAKE_SOURCE_DIR}/core/boot/cmdline.cc
)
