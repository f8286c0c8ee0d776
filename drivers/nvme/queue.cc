// NVMe queue bookkeeping and PRPs (drivers/nvme/queue.h).
#include "drivers/nvme/queue.h"

namespace capsule::nvme {

void SubmissionQueue::push(const Sqe& e) {
  ring_[tail_] = e;
  tail_ = uint16_t(tail_ + 1 == size_ ? 0 : tail_ + 1);
}

bool CompletionQueue::pop(Cqe* out) {
  volatile Cqe& e = ring_[head_];
  uint16_t status = e.status;
  if ((status & 1) != phase_) return false;
  // The rest of the entry is read after its phase tag says it is whole.
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  out->dw0 = e.dw0;
  out->dw1 = e.dw1;
  out->sq_head = e.sq_head;
  out->sq_id = e.sq_id;
  out->cid = e.cid;
  out->status = status;
  if (++head_ == size_) {
    head_ = 0;
    phase_ ^= 1;
  }
  return true;
}

Result<Prp> prp_build(uintptr_t buf, size_t len, PhysOf phys, uint64_t* list, size_t list_cap,
                      uint64_t list_phys) {
  if (!len || (buf & 3)) return Error::Invalid;  // PRP entries are dword aligned [§4.3]
  const size_t pages = prp_pages(buf, len);
  const uintptr_t first_page = buf & ~uintptr_t(NVME_PAGE - 1);
  Prp p;
  p.prp1 = phys(buf);
  if (pages == 1) return p;
  if (pages == 2) {
    p.prp2 = phys(first_page + NVME_PAGE);
    return p;
  }
  if (pages - 1 > list_cap) return Error::TooBig;
  for (size_t i = 1; i < pages; ++i) list[i - 1] = phys(first_page + i * NVME_PAGE);
  p.prp2 = list_phys;
  p.list_entries = pages - 1;
  return p;
}

}  // namespace capsule::nvme
