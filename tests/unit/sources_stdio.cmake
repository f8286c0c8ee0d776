# virtio and the console (docs/virtio.md, docs/console.md): the virtqueue's
# ring bookkeeping and the tty's line discipline are pure logic.
list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/drivers/virtio/virtqueue.cc
  ${CMAKE_SOURCE_DIR}/drivers/tty/line_discipline.cc)
