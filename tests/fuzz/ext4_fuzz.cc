// libFuzzer target: an ext4 image as input, mounted and read in full, then
// mounted read-write and changed (ext4_harness::change)
// (tests/fuzz/ext4_harness.h). Built with clang's -fsanitize=fuzzer,address
// by tests/fuzz/CMakeLists.txt and run for a bounded time by ctest
// (fuzz.ext4_*) from seed images made by mke2fs.
#include "tests/fuzz/ext4_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace capsule;
  if (size < 2048 || size > (4u << 20)) return -1;  // -1: not added to the corpus
  ext4_harness::MemIo io(std::vector<uint8_t>(data, data + size - size % 512));
  ext4::MountResult mr;
  if (!ext4::mount(io, mr).ok()) return 0;
  size_t errors = 0;
  vfs::VnodeRef root = mr.fs->root();
  ext4_harness::walk(*root, 4, &errors);
  (void)mr.fs->statfs();
  root = vfs::VnodeRef();
  mr.fs->shutdown();
  // The same image read-write: the allocator, the extent and directory
  // writers over whatever the damage left.
  ext4_harness::MemIo rw(std::move(io.bytes_), true);
  ext4::MountResult mw;
  if (!ext4::mount(rw, mw).ok()) return 0;
  root = mw.fs->root();
  if (!mw.read_only) ext4_harness::change(*root);
  ext4_harness::walk(*root, 4, &errors);
  root = vfs::VnodeRef();
  mw.fs->shutdown();
  return 0;
}
