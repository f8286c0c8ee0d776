// Block device tests (--test=block), run with disks made by
// tests/guest/disk.cmake on any driver (virtio-blk on both transports,
// NVMe on q35): every sector i of each disk begins with "sector %08d\n".
// The disk with identity capsule0 is read-only for QEMU and refuses
// writes: ReadOnly when the device says it is read-only (virtio-blk's RO),
// else the device's own error, Io (QEMU's NVMe does not report a read-only
// drive: the write fails at the controller); a writable one takes a write
// of its last sector and gives it back.
#include "core/mm.h"
#include "drivers/block.h"
#include "lib/format.h"
#include "lib/ktest.h"

namespace capsule {
namespace {

bool sector_ok(const uint8_t* p, uint64_t i) {
  char want[24];
  format_to(want, sizeof want, "sector {:08}\n", i);
  if (__builtin_memcmp(p, want, 16) == 0) return true;
  kprint("ktest: sector {}: read '{}'\n", i, StringView(reinterpret_cast<const char*>(p), 15));
  return false;
}

}  // namespace

KTEST(block_pattern) {
  KEXPECT(block::device_count() > 0);
  auto* buf = static_cast<uint8_t*>(kmalloc(64 * 1024 + 512));
  KEXPECT(buf);
  if (!buf) return;
  for (size_t d = 0; d < block::device_count(); ++d) {
    block::Device* dev = block::device(d);
    uint64_t n = dev->sectors();
    KEXPECT(n >= 256);
    // One sector, the last one, and a long run that the driver splits into
    // several requests (64 KiB and more than a page per request).
    KEXPECT(dev->read(0, buf, 1).ok() && sector_ok(buf, 0));
    KEXPECT(dev->read(n - 1, buf, 1).ok() && sector_ok(buf, n - 1));
    KEXPECT(dev->read(3, buf, 128).ok());
    bool all = true;
    for (uint64_t i = 0; i < 128; ++i) all &= sector_ok(buf + i * 512, 3 + i);
    KEXPECT(all);
    // A buffer that is not page aligned crosses a page boundary mid-sector.
    KEXPECT(dev->read(7, buf + 512 + 100, 16).ok());
    all = true;
    for (uint64_t i = 0; i < 16; ++i) all &= sector_ok(buf + 612 + i * 512, 7 + i);
    KEXPECT(all);
    // A buffer that is not even 4-byte aligned (NVMe's PRPs are: the
    // driver bounces it).
    KEXPECT(dev->read(40, buf + 3, 9).ok());
    all = true;
    for (uint64_t i = 0; i < 9; ++i) all &= sector_ok(buf + 3 + i * 512, 40 + i);
    KEXPECT(all);
    // Bad input: past the end, and a count that wraps.
    KEXPECT(dev->read(n, buf, 1).error() == Error::Range);
    KEXPECT(dev->read(n - 1, buf, 2).error() == Error::Range);
    KEXPECT(dev->read(~0ull, buf, 2).error() == Error::Range);
    KEXPECT(dev->read(0, buf, 0).ok());
    char id[24];
    KEXPECT(dev->identity(id, sizeof id).ok());
    kprint("ktest: block: {} is '{}', {} sectors{}\n", dev->name(), id, n, dev->read_only() ? ", read-only" : "");
    if (dev->read_only() || StringView(id) == "capsule0") {
      __builtin_memset(buf, 0x77, 512);
      KEXPECT(dev->write(0, buf, 1).error() == (dev->read_only() ? Error::ReadOnly : Error::Io));
      KEXPECT(dev->read(0, buf, 1).ok() && sector_ok(buf, 0));  // unchanged, and the device still answers
    } else {
      __builtin_memset(buf, 0x5a, 512);
      format_to(reinterpret_cast<char*>(buf), 32, "written {:08}\n", n - 1);
      KEXPECT(dev->write(n - 1, buf, 1).ok());
      KEXPECT(dev->flush().ok());
      __builtin_memset(buf, 0, 512);
      KEXPECT(dev->read(n - 1, buf, 1).ok());
      char want[32];
      format_to(want, sizeof want, "written {:08}\n", n - 1);
      KEXPECT(__builtin_memcmp(buf, want, 17) == 0 && buf[511] == 0x5a);
    }
  }
  kfree(buf);
}

// A transfer larger than one request may carry (virtio-blk: SEG_MAX pages;
// NVMe: MDTS, 512 KiB on QEMU, and 128 pages per PRP list): 1.5 MiB read
// at an odd sector into physically contiguous pages, every sector checked.
KTEST(block_large) {
  constexpr unsigned ORDER = 9;  // 2 MiB
  auto page = page_alloc(ORDER);
  KEXPECT(page.ok());
  if (!page.ok()) return;
  auto* buf = static_cast<uint8_t*>(phys_to_virt(page.value()));
  for (size_t d = 0; d < block::device_count(); ++d) {
    block::Device* dev = block::device(d);
    constexpr uint64_t COUNT = 3072, FIRST = 1001;
    if (dev->sectors() < FIRST + COUNT) continue;
    __builtin_memset(buf, 0, COUNT * 512);
    KEXPECT(dev->read(FIRST, buf + 512, COUNT).ok());
    bool all = true;
    for (uint64_t i = 0; i < COUNT && all; ++i) all &= sector_ok(buf + 512 + i * 512, FIRST + i);
    KEXPECT(all);
  }
  page_free(page.value(), ORDER);
}

}  // namespace capsule
