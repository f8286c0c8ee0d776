#pragma once
// The pure bookkeeping of an NVMe queue pair, over caller memory: no MMIO,
// no locks, no allocation (host-tested in tests/unit/nvme_queue_test.cc).
//   - SubmissionQueue: entries written at the tail; the tail wraps; the
//     caller writes tail() to the doorbell.
//   - CompletionQueue: entries taken at the head while their phase tag is
//     the one expected; the expected phase flips each time the head wraps
//     [NVMe 1.4 §4.6]; the caller writes head() to the doorbell.
//   - prp_build: a transfer's PRP1/PRP2 and, past two pages, a PRP list
//     [§4.3].
// docs/block.md.
#include <cstddef>
#include <cstdint>

#include "drivers/nvme/spec.h"
#include "lib/result.h"

namespace capsule::nvme {

inline constexpr size_t NVME_PAGE = 4096;  // CC.MPS = 0

class SubmissionQueue {
 public:
  void init(Sqe* ring, uint16_t size) {
    ring_ = ring;
    size_ = size;
    tail_ = 0;
  }
  // Copies `e` at the tail and advances it; the caller keeps fewer than
  // size() commands outstanding, so the tail never reaches the head.
  void push(const Sqe& e);
  uint16_t tail() const { return tail_; }
  uint16_t size() const { return size_; }

 private:
  Sqe* ring_ = nullptr;
  uint16_t size_ = 0;
  uint16_t tail_ = 0;
};

class CompletionQueue {
 public:
  void init(volatile Cqe* ring, uint16_t size) {
    ring_ = ring;
    size_ = size;
    head_ = 0;
    phase_ = 1;  // the controller posts its first pass with phase 1 over zeroed memory
  }
  // The next entry the controller has posted, if its phase tag says so:
  // copied to *out, the head advanced. false when none is new.
  bool pop(Cqe* out);
  uint16_t head() const { return head_; }

 private:
  volatile Cqe* ring_ = nullptr;
  uint16_t size_ = 0;
  uint16_t head_ = 0;
  uint16_t phase_ = 1;
};

struct Prp {
  uint64_t prp1 = 0, prp2 = 0;
  size_t list_entries = 0;  // entries written to the list (0: no list)
};
using PhysOf = uint64_t (*)(uintptr_t virt);

// PRPs for `len` bytes (> 0) at virtual address `buf`, each 4 KiB page
// translated by `phys` (the buffer need not be physically contiguous).
// PRP1 is the first byte (any dword-aligned offset), PRP2 the second page
// or, past two pages, `list_phys`, whose entries go to `list` (at most
// `list_cap`; no chained lists). Invalid for an unaligned buffer or len 0;
// TooBig when the list would not fit.
Result<Prp> prp_build(uintptr_t buf, size_t len, PhysOf phys, uint64_t* list, size_t list_cap,
                      uint64_t list_phys);

// Pages a transfer of `len` bytes at `buf` touches.
inline size_t prp_pages(uintptr_t buf, size_t len) {
  return ((buf & (NVME_PAGE - 1)) + len + NVME_PAGE - 1) / NVME_PAGE;
}

}  // namespace capsule::nvme
