# The union file system (fs/overlay, docs/overlay.md).
list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/fs/overlay/overlay.cc
  ${CMAKE_SOURCE_DIR}/fs/overlay/dir_ops.cc
  ${CMAKE_SOURCE_DIR}/fs/overlay/copy_up.cc
  ${CMAKE_SOURCE_DIR}/fs/overlay/whiteout.cc
)
