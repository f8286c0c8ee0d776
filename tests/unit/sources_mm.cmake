list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/core/mm/memmap.cc
  ${CMAKE_SOURCE_DIR}/core/mm/buddy.cc
  ${CMAKE_SOURCE_DIR}/core/mm/heap.cc
  ${CMAKE_SOURCE_DIR}/core/mm/debug_heap.cc
  ${CMAKE_SOURCE_DIR}/arch/x64/mm/paging.cc
)
