# VFS core and ramfs (fs/vfs, fs/ramfs, docs/vfs.md). fs/ramfs/boot.cc is
# kernel only.
list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/fs/vfs/platform.cc
  ${CMAKE_SOURCE_DIR}/fs/vfs/vnode.cc
  ${CMAKE_SOURCE_DIR}/fs/vfs/chrdev.cc
  ${CMAKE_SOURCE_DIR}/fs/vfs/dcache.cc
  ${CMAKE_SOURCE_DIR}/fs/vfs/vfs.cc
  ${CMAKE_SOURCE_DIR}/fs/vfs/file.cc
  ${CMAKE_SOURCE_DIR}/fs/vfs/notify.cc
  ${CMAKE_SOURCE_DIR}/fs/vfs/lock.cc
  ${CMAKE_SOURCE_DIR}/fs/vfs/xattr.cc
  ${CMAKE_SOURCE_DIR}/fs/vfs/permission.cc
  ${CMAKE_SOURCE_DIR}/fs/vfs/page_cache.cc
  ${CMAKE_SOURCE_DIR}/fs/ramfs/page_tree.cc
  ${CMAKE_SOURCE_DIR}/fs/ramfs/ramfs.cc
  ${CMAKE_SOURCE_DIR}/fs/ramfs/node.cc
  ${CMAKE_SOURCE_DIR}/fs/ramfs/file.cc
  ${CMAKE_SOURCE_DIR}/fs/ramfs/dir.cc
  ${CMAKE_SOURCE_DIR}/fs/ramfs/populate.cc
)
