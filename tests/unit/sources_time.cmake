list(APPEND HOST_SOURCES ${CMAKE_SOURCE_DIR}/core/time/calendar.cc)
