# NVMe (docs/block.md): the queues' ring bookkeeping and PRP building are
# pure logic.
list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/drivers/nvme/queue.cc)
