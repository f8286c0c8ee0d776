// libFuzzer target: FUSE replies as the virtio-fs client reads them
// (fs/fuse/wire.cc: parse_reply, the Reader, fuse_entry_out, fuse_attr and
// READDIR's fuse_dirent entries). The input is which reply it is, then the
// reply. A reply is refused or gives a Reader that never reads past the
// reply's own len; directory entries are walked as fs/fuse/fusefs.cc does.
#include <cstdlib>

#include "fs/fuse/wire.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule;
using namespace capsule::fuse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 140000) return -1;
  const uint8_t kind = data[0] % 4;  // 0 entry, 1 attr, 2 readdir, 3 write/open
  size_t n = size - 1;
  uint8_t* reply = static_cast<uint8_t*>(std::malloc(n ? n : 1));
  __builtin_memcpy(reply, data + 1, n);
  const uint64_t unique = 7;
  Result<Reader> rr = parse_reply(reply, n, unique);
  FUZZ_SAY("fuse: reply kind %u: %s\n", kind, rr.ok() ? "ok" : error_name(rr.error()));
  if (rr.ok()) {
    uint32_t len = uint32_t(reply[0]) | uint32_t(reply[1]) << 8 | uint32_t(reply[2]) << 16 | uint32_t(reply[3]) << 24;
    FUZZ_CHECK(len >= OUT_HEADER && len <= n);
    Reader& r = rr.value();
    FUZZ_CHECK(r.left() == len - OUT_HEADER);
    const char* lo = reinterpret_cast<const char*>(reply + OUT_HEADER);
    const char* hi = reinterpret_cast<const char*>(reply + len);
    switch (kind) {
      case 0:
        (void)read_entry(r);
        break;
      case 1:
        r.skip(16);
        (void)read_attr(r);
        break;
      case 2: {
        Dirent d;
        size_t count = 0;
        while (read_dirent(r, &d)) {
          FUZZ_CHECK(d.name.size() > 0 && d.name.size() <= MAX_DIRENT_NAME);
          FUZZ_CHECK(d.name.data() >= lo && d.name.data() + d.name.size() <= hi);
          FUZZ_CHECK(++count <= len / 25 + 1);  // every entry takes at least 25 bytes
        }
        break;
      }
      default:
        (void)r.u64();
        (void)r.u32();
        break;
    }
    if (r.bad()) FUZZ_CHECK(r.left() == 0);
  } else {
    FUZZ_CHECK(rr.error() != Error::None);
  }
  std::free(reply);
  return 0;
}
