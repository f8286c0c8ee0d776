# Event layer (core/event, docs/events.md): the observer list and epoll's
# bookkeeping compile for the host; blocking parts are kernel-only (ktests).
list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/core/event/poll.cc
  ${CMAKE_SOURCE_DIR}/core/event/epoll.cc)
