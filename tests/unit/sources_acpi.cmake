list(APPEND HOST_SOURCES ${CMAKE_SOURCE_DIR}/arch/x64/acpi/parse.cc)
