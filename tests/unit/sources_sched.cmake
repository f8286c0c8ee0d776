list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/lib/rbtree.cc
)
