# ext4 over the block cache (fs/block, fs/ext4, docs/ext4.md); the fuzz
# target (tests/fuzz) builds the same sources.
set(EXT4_HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/lib/crc32c.cc
  ${CMAKE_SOURCE_DIR}/fs/block/block_cache.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/layout.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/fs.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/node.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/layout_write.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/alloc.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/extent_write.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/extent_range.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/node_space.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/xattr.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/dir_write.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/htree_write.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/dirhash.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/inode_write.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/node_write.cc
  ${CMAKE_SOURCE_DIR}/fs/ext4/journal.cc
)
list(APPEND HOST_SOURCES ${EXT4_HOST_SOURCES})
