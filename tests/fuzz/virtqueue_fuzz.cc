// libFuzzer target: the split virtqueue's bookkeeping (drivers/virtio/
// virtqueue.cc) against a device that breaks every rule. The input is a
// script: each byte picks a step — the driver adds a chain, publishes,
// pops; the device completes the next chain honestly, writes a used entry
// of its choosing, moves the used index anywhere, or scribbles on a
// descriptor. Whatever the device does, the driver must never see a token
// it did not add or one twice, never be told that more bytes were written
// than its writable buffers hold, and never hand out a descriptor of a
// chain still in flight (free_count plus the descriptors in flight is
// always the queue size).
#include <cstdlib>
#include <cstring>
#include <map>

#include "drivers/virtio/virtqueue.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

using namespace capsule;
using namespace capsule::virtio;

namespace {

struct Chain {
  uint16_t descs;
  uint32_t writable;
};

uint32_t take32(fuzz::Input& in) {
  const uint8_t* p;
  if (!in.take(4, &p)) return 0;
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in{data, size};
  int sz = in.byte();
  if (sz < 0) return -1;
  uint16_t qsize = uint16_t(1u << (sz % 9));  // 1 .. 256
  size_t bytes = Virtqueue::bytes(qsize);
  void* mem = std::aligned_alloc(16, (bytes + 15) & ~size_t(15));
  std::memset(mem, 0, bytes);
  auto* q = new Virtqueue;
  FUZZ_CHECK(q->init(qsize, mem, reinterpret_cast<uintptr_t>(mem)).ok());
  std::map<uintptr_t, Chain> in_flight;  // by token
  uintptr_t next_token = 1;
  size_t descs_in_flight = 0;
  uint16_t device_avail = 0, device_used = 0;
  for (int steps = 0; steps < 4096; ++steps) {
    int op = in.byte();
    if (op < 0) break;
    switch (op % 8) {
      case 0: {  // the driver adds a chain of 1..4 buffers
        int b = in.byte();
        if (b < 0) break;
        size_t n = 1 + (b & 3);
        Virtqueue::Buf bufs[4];
        uint32_t writable = 0;
        bool ok_order = true, seen_w = false;
        for (size_t i = 0; i < n; ++i) {
          uint32_t len = take32(in) % 70000;
          bool w = (b >> (2 + i)) & 1;
          bufs[i] = {0x1000 * (i + 1), len, w};
          if (len == 0 || (seen_w && !w)) ok_order = false;
          seen_w |= w;
          if (w) writable += len;
        }
        uint16_t free_before = q->free_count();
        auto r = q->add(bufs, n, reinterpret_cast<void*>(next_token));
        if (!ok_order) {
          FUZZ_CHECK(!r.ok() && r.error() == Error::Invalid);
        } else if (n > free_before) {
          FUZZ_CHECK(!r.ok() && r.error() == Error::NoSpace);
        } else {
          FUZZ_CHECK(r.ok());
          in_flight[next_token] = {uint16_t(n), writable};
          descs_in_flight += n;
          ++next_token;
        }
        break;
      }
      case 1:
        q->kick_prepare();
        break;
      case 2: {  // the device completes the next published chain honestly
        if (q->avail_ring()[1] == device_avail) break;
        uint16_t head = q->avail_ring()[2 + (device_avail % qsize)];
        ++device_avail;
        uint32_t len = take32(in);
        volatile UsedElem& e = q->used_ring()[device_used % qsize];
        e.id = head;
        e.len = len;
        q->used_hdr()[1] = ++device_used;
        break;
      }
      case 3: {  // the device writes a used entry of its own choosing
        uint32_t id = take32(in), len = take32(in);
        volatile UsedElem& e = q->used_ring()[device_used % qsize];
        e.id = id % (2 * qsize + 1);
        e.len = len;
        q->used_hdr()[1] = ++device_used;
        break;
      }
      case 4: {  // the device moves the used index anywhere
        device_used = uint16_t(take32(in));
        q->used_hdr()[1] = device_used;
        break;
      }
      case 5: {  // the device scribbles on a descriptor
        uint32_t which = take32(in) % qsize, v = take32(in);
        Desc& d = q->desc()[which];
        d.next = uint16_t(v);
        d.flags = uint16_t(v >> 16);
        d.len = take32(in);
        break;
      }
      case 6:
      case 7: {  // the driver pops what the device returned
        void* tok;
        uint32_t written;
        while (q->pop_used(&tok, &written)) {
          auto it = in_flight.find(reinterpret_cast<uintptr_t>(tok));
          FUZZ_CHECK(it != in_flight.end());  // a token we added and have not had back
          FUZZ_CHECK(written <= it->second.writable);
          descs_in_flight -= it->second.descs;
          in_flight.erase(it);
        }
        break;
      }
    }
    FUZZ_CHECK(q->free_count() <= qsize);
    FUZZ_CHECK(q->free_count() + descs_in_flight == qsize);
  }
  FUZZ_SAY("virtqueue size %u: %zu chains in flight, %u device errors\n", qsize, in_flight.size(),
           q->device_errors());
  delete q;
  std::free(mem);
  return 0;
}
