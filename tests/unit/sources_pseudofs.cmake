# Pseudo file systems (fs/procfs, fs/devfs, fs/sysfs, docs/pseudo-fs.md):
# the generated-tree machinery, the maps and CPU-list formats, devfs's tree.
list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/fs/procfs/procfs.cc
  ${CMAKE_SOURCE_DIR}/fs/procfs/maps_format.cc
  ${CMAKE_SOURCE_DIR}/fs/procfs/write_value.cc
  ${CMAKE_SOURCE_DIR}/fs/sysfs/cpulist.cc
  ${CMAKE_SOURCE_DIR}/fs/sysfs/sysfs.cc
  ${CMAKE_SOURCE_DIR}/fs/devfs/devfs.cc
  ${CMAKE_SOURCE_DIR}/fs/devfs/memory_devices.cc
)
