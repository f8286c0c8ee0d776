list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/fs/fuse/wire.cc
)
