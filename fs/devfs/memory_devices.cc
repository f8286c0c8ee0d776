// The memory devices (fs/devfs/devfs.h): /dev/zero reads zeros, /dev/full
// reads zeros and refuses writes with ENOSPC, /dev/random and /dev/urandom
// read the kernel's ChaCha20 CSPRNG (core/include/core/random.h; seeded at boot, so
// neither ever blocks, as on Linux 5.6+) and accept writes (mixed in on
// Linux; discarded here). Each device is one vnode shared by every open.
#include <new>

#include "fs/devfs/devfs.h"
#include "fs/vfs/platform.h"

#ifdef CAPSULE_HOST
#include <random>
#else
#include "core/random.h"
#endif

namespace capsule::devfs {
namespace {

using vfs::IoBuffer;
using vfs::fs_interrupted;
using vfs::VnodeRef;

enum class Kind : uint8_t { Zero, Full, Random };

void fill_random(void* p, size_t n) {
#ifdef CAPSULE_HOST
  static std::random_device rd;
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(rd());
#else
  random_bytes(p, n);
#endif
}

class DeviceFs final : public vfs::FileSystem {
 public:
  const char* name() const override { return "devices"; }
  VnodeRef root() override { return {}; }
};

class MemoryDevice final : public vfs::Vnode {
 public:
  MemoryDevice(DeviceFs* fs, uint64_t ino, Kind kind, uint64_t rdev)
      : Vnode(fs, ino, vfs::MODE_CHAR | 0666), kind_(kind), rdev_(rdev), time_ns_(vfs::fs_now_ns()) {}

  // A read of any size (up to 2 GiB) goes page by page and stops at a
  // pending signal with what it copied (at least the first page), as
  // Linux's read_iter_zero and urandom_read_iter: a huge read must not
  // hold the thread in the kernel for minutes.
  Result<size_t> read(uint64_t, IoBuffer& buf) override {
    constexpr size_t PAGE = 4096;
    uint8_t chunk[256];
    size_t done = 0;
    bool fault = false;
    while (done < buf.size()) {
      if (done && done % PAGE == 0 && fs_interrupted()) break;
      size_t want = buf.size() - done;
      if (kind_ != Kind::Random) {
        size_t n = want < PAGE - done % PAGE ? want : PAGE - done % PAGE;
        if (!buf.zero(done, n).ok()) {
          fault = !done;
          break;
        }
        done += n;
        continue;
      }
      size_t n = want < sizeof(chunk) ? want : sizeof(chunk);
      fill_random(chunk, n);
      if (!buf.copy_out(done, chunk, n).ok()) {
        fault = !done;
        break;
      }
      done += n;
    }
    __builtin_memset(chunk, 0, sizeof(chunk));
    if (fault) return Error::Fault;
    return done;
  }

  Result<size_t> write(uint64_t*, IoBuffer& buf, bool) override {
    if (kind_ == Kind::Full) return Error::NoSpace;
    return buf.size();
  }

  Result<void> truncate(uint64_t) override { return {}; }

  Result<vfs::Attr> getattr() override {
    vfs::Attr a;
    a.dev = fs()->dev();
    a.ino = ino();
    a.mode = vfs::MODE_CHAR | 0666;
    a.nlink = 1;
    a.rdev = rdev_;
    a.atime_ns = a.mtime_ns = a.ctime_ns = time_ns_;
    return a;
  }
  Result<void> setattr(const vfs::SetAttr&) override { return {}; }

 private:
  Kind kind_;
  uint64_t rdev_;
  int64_t time_ns_;
};

MemoryDevice* g_zero;
MemoryDevice* g_full;
MemoryDevice* g_random;
MemoryDevice* g_urandom;

Result<VnodeRef> open_memory(uint64_t rdev, uint32_t) {
  if (rdev == DEV_ZERO) return VnodeRef(g_zero);
  if (rdev == DEV_FULL) return VnodeRef(g_full);
  return VnodeRef(rdev == DEV_RANDOM ? g_random : g_urandom);
}

}  // namespace

Result<void> register_memory_devices() {
  if (!g_zero) {
    auto* fs = new (std::nothrow) DeviceFs;
    if (!fs) return Error::NoMemory;
    g_zero = new (std::nothrow) MemoryDevice(fs, 5, Kind::Zero, DEV_ZERO);
    g_full = new (std::nothrow) MemoryDevice(fs, 7, Kind::Full, DEV_FULL);
    g_random = new (std::nothrow) MemoryDevice(fs, 8, Kind::Random, DEV_RANDOM);
    g_urandom = new (std::nothrow) MemoryDevice(fs, 9, Kind::Random, DEV_URANDOM);
    if (!g_zero || !g_full || !g_random || !g_urandom) return Error::NoMemory;
  }
  for (uint64_t d : {DEV_ZERO, DEV_FULL, DEV_RANDOM, DEV_URANDOM}) TRY(vfs::register_char_device(d, open_memory));
  return {};
}

}  // namespace capsule::devfs
