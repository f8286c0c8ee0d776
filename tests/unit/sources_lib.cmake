list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/lib/format.cc
  ${CMAKE_SOURCE_DIR}/lib/result.cc
  ${CMAKE_SOURCE_DIR}/lib/log.cc
  ${CMAKE_SOURCE_DIR}/kernel/cmdline.cc
)
