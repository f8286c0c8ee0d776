#pragma once
// The split virtqueue [virtio 1.2 §2.7]: descriptor table, available ring
// (driver → device) and used ring (device → driver), as pure bookkeeping
// over memory the caller provides. No locking, no MMIO: a driver holds its
// own lock around a queue, and asks its transport to notify the device
// when kick_prepare() says so. Compiles for the host (tests/unit/
// virtqueue_test.cc plays the device over ordinary memory).
//
//   Virtqueue q;
//   q.init(size, mem, mem_phys);                 // mem: Virtqueue::bytes(size), zeroed
//   transport.queue_setup(i, size, q.desc_phys(), q.avail_phys(), q.used_phys());
//   Virtqueue::Buf b[] = {{phys, len, /*device_writes=*/true}};
//   TRY(q.add(b, 1, token));                     // NoSpace when the table is full
//   if (q.kick_prepare()) transport.notify(i);
//   ... interrupt ...
//   void* token; uint32_t len;
//   while (q.pop_used(&token, &len)) { ... }
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::virtio {

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(Desc) == 16);

struct UsedElem {
  uint32_t id;
  uint32_t len;
};

inline constexpr uint16_t DESC_F_NEXT = 1;
inline constexpr uint16_t DESC_F_WRITE = 2;
inline constexpr uint16_t AVAIL_F_NO_INTERRUPT = 1;
inline constexpr uint16_t USED_F_NO_NOTIFY = 1;

class Virtqueue {
 public:
  static constexpr uint16_t MAX_SIZE = 256;

  struct Buf {
    uint64_t phys;
    uint32_t len;
    bool device_writes;  // device-writable (receive) rather than device-readable
  };

  // Bytes of memory for a queue of `size` entries (a power of two, at most
  // MAX_SIZE): the descriptor table (16-byte aligned), then the available
  // ring, then the used ring (4-byte aligned) [§2.7: alignment 16/2/4].
  static size_t bytes(uint16_t size);

  // `mem` (zeroed, 16-byte aligned) at guest-physical `phys`. Invalid for
  // a size that is not a power of two in 1..MAX_SIZE.
  Result<void> init(uint16_t size, void* mem, uint64_t phys);

  uint16_t size() const { return size_; }
  uint64_t desc_phys() const { return phys_; }
  uint64_t avail_phys() const { return phys_ + avail_off_; }
  uint64_t used_phys() const { return phys_ + used_off_; }
  uint16_t free_count() const { return free_count_; }

  // Adds one chain of `n` buffers, device-readable ones first (the spec
  // requires that order): Invalid for n == 0, a readable buffer after a
  // writable one or a zero length; NoSpace when fewer than n descriptors
  // are free. The chain is visible to the device after kick_prepare().
  Result<void> add(const Buf* bufs, size_t n, void* token);

  // Publishes the chains added since the last call (memory barrier, then
  // the available index). True when the device wants a notification
  // (it has not set USED_F_NO_NOTIFY) and something was published.
  bool kick_prepare();

  // True when the device has returned a chain not yet popped.
  bool has_used() const;
  // Takes the next used chain: its token and the bytes the device wrote
  // (never more than the chain's device-writable buffers hold). False when
  // none is waiting. The chain's descriptors become free. A used entry
  // that does not name a chain in flight (a broken device) is skipped and
  // counted: the free list and the tokens are the driver's own copies, so
  // nothing the device writes can free a descriptor twice or hand a
  // buffer back early.
  bool pop_used(void** token, uint32_t* written);
  // Used entries skipped so far (ids out of range or not in flight).
  uint32_t device_errors() const { return device_errors_; }

  // Asks the device not to interrupt for used buffers (a hint) / again.
  void disable_interrupts();
  void enable_interrupts();

  // The parts, for the host test's fake device.
  Desc* desc() { return desc_; }
  volatile uint16_t* avail_ring() { return avail_; }  // [0] flags, [1] idx, [2..] ring
  volatile uint16_t* used_hdr() { return used_; }     // [0] flags, [1] idx, then UsedElem[size]
  volatile UsedElem* used_ring() { return reinterpret_cast<volatile UsedElem*>(used_ + 2); }

 private:
  Desc* desc_ = nullptr;
  volatile uint16_t* avail_ = nullptr;
  volatile uint16_t* used_ = nullptr;
  uint64_t phys_ = 0;
  size_t avail_off_ = 0, used_off_ = 0;
  uint16_t size_ = 0;
  uint16_t free_head_ = 0;   // first free descriptor (a list through .next)
  uint16_t free_count_ = 0;
  uint16_t avail_idx_ = 0;   // our shadow of avail->idx, published by kick_prepare
  uint16_t published_ = 0;   // avail->idx as last written
  uint16_t last_used_ = 0;   // next used entry to pop
  uint32_t device_errors_ = 0;
  // The driver's own bookkeeping, which the device cannot write: the links
  // of the free list and of each chain, and per chain head in flight its
  // length (0: not a head in flight) and device-writable bytes.
  uint16_t next_[MAX_SIZE] = {};
  uint16_t chain_len_[MAX_SIZE] = {};
  uint32_t writable_[MAX_SIZE] = {};
  void* tokens_[MAX_SIZE] = {};
};

}  // namespace capsule::virtio
