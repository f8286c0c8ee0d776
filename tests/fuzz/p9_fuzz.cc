// libFuzzer target: 9P2000.L replies as the client reads them (fs/p9/
// wire.cc: parse_reply and the Reader; the bodies as fs/p9/p9fs.cc takes
// them apart). The input is the request type the reply answers, then the
// reply. A reply is refused or gives a Reader that never reads past the
// message's own size; Rreaddir's entries are walked as the client does.
#include <cstdlib>

#include "fs/p9/wire.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule;
using namespace capsule::p9;

namespace {

const uint8_t TYPES[] = {TVERSION, TATTACH, TWALK, TLOPEN, TLCREATE, TREAD, TWRITE, TCLUNK, TGETATTR, TSETATTR,
                         TREADDIR, TREADLINK, TSTATFS, TMKDIR, TSYMLINK, TMKNOD, TLINK, TRENAMEAT, TUNLINKAT, TFSYNC};

// Reads the body of a reply to `t` field by field.
void read_body(Reader& r, uint8_t t, const uint8_t* lo, const uint8_t* hi) {
  switch (t) {
    case TVERSION: {
      (void)r.u32();
      StringView v = r.str();
      if (!r.bad()) FUZZ_CHECK(v.empty() || (v.data() >= reinterpret_cast<const char*>(lo) &&
                                             v.data() + v.size() <= reinterpret_cast<const char*>(hi)));
      break;
    }
    case TWALK: {
      uint16_t n = r.u16();
      for (uint16_t i = 0; i < n && !r.bad(); ++i) (void)r.qid();
      break;
    }
    case TLOPEN:
    case TLCREATE:
      (void)r.qid();
      (void)r.u32();
      break;
    case TREAD: {
      uint32_t count = r.u32();
      const uint8_t* d = r.bytes(count);
      if (d) FUZZ_CHECK(d >= lo && d + count <= hi);
      break;
    }
    case TGETATTR:
      (void)r.u64();
      (void)r.qid();
      for (int i = 0; i < 3; ++i) (void)r.u32();
      for (int i = 0; i < 15; ++i) (void)r.u64();
      break;
    case TREADDIR: {
      uint32_t count = r.u32();
      const uint8_t* data = r.bytes(count);
      if (!data) break;
      FUZZ_CHECK(data >= lo && data + count <= hi);
      Reader e(data, count);
      for (size_t k = 0; e.left() && k <= count; ++k) {
        (void)e.qid();
        (void)e.u64();
        (void)e.u8();
        StringView name = e.str();
        if (e.bad()) break;
        FUZZ_CHECK(name.empty() || (name.data() >= reinterpret_cast<const char*>(data) &&
                                    name.data() + name.size() <= reinterpret_cast<const char*>(data + count)));
      }
      break;
    }
    case TREADLINK:
      (void)r.str();
      break;
    case TSTATFS:
      (void)r.u32();
      (void)r.u32();
      for (int i = 0; i < 6; ++i) (void)r.u64();
      (void)r.u32();
      break;
    default:
      (void)r.qid();
      break;
  }
  if (r.bad()) FUZZ_CHECK(r.left() == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 65536) return -1;
  const uint8_t t = TYPES[data[0] % sizeof TYPES];
  size_t n = size - 1;
  uint8_t* reply = static_cast<uint8_t*>(std::malloc(n ? n : 1));
  __builtin_memcpy(reply, data + 1, n);
  Result<Reader> rr = parse_reply(reply, n, t);
  FUZZ_SAY("p9: reply to %u: %s\n", t, rr.ok() ? "ok" : error_name(rr.error()));
  if (rr.ok()) {
    uint32_t msg = uint32_t(reply[0]) | uint32_t(reply[1]) << 8 | uint32_t(reply[2]) << 16 | uint32_t(reply[3]) << 24;
    FUZZ_CHECK(msg >= HEADER && msg <= n && reply[4] == uint8_t(t + 1));
    FUZZ_CHECK(rr.value().left() == msg - HEADER);
    read_body(rr.value(), t, reply + HEADER, reply + msg);
  } else {
    FUZZ_CHECK(rr.error() != Error::None);
  }
  std::free(reply);
  return 0;
}
