list(APPEND HOST_SOURCES ${CMAKE_SOURCE_DIR}/drivers/acpi/parse.cc)
