// Split virtqueue bookkeeping (drivers/virtio/virtqueue.h, virtio 1.2 §2.7).
#include "drivers/virtio/virtqueue.h"

#include <atomic>

namespace capsule::virtio {
namespace {

size_t align(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }
size_t avail_bytes(uint16_t size) { return 4 + 2 * size_t(size) + 2; }  // flags, idx, ring, used_event

}  // namespace

size_t Virtqueue::bytes(uint16_t size) {
  size_t used = align(16 * size_t(size) + avail_bytes(size), 4);
  return used + 4 + 8 * size_t(size) + 2;  // flags, idx, ring, avail_event
}

Result<void> Virtqueue::init(uint16_t size, void* mem, uint64_t phys) {
  if (size == 0 || size > MAX_SIZE || (size & (size - 1)) || !mem) return Error::Invalid;
  auto* base = static_cast<uint8_t*>(mem);
  size_ = size;
  phys_ = phys;
  avail_off_ = 16 * size_t(size);
  used_off_ = align(avail_off_ + avail_bytes(size), 4);
  desc_ = reinterpret_cast<Desc*>(base);
  avail_ = reinterpret_cast<volatile uint16_t*>(base + avail_off_);
  used_ = reinterpret_cast<volatile uint16_t*>(base + used_off_);
  for (uint16_t i = 0; i < size; ++i) {
    desc_[i] = Desc{0, 0, 0, 0};
    next_[i] = uint16_t(i + 1);
    chain_len_[i] = 0;
    writable_[i] = 0;
    tokens_[i] = nullptr;
  }
  free_head_ = 0;
  free_count_ = size;
  avail_idx_ = published_ = last_used_ = 0;
  device_errors_ = 0;
  return {};
}

Result<void> Virtqueue::add(const Buf* bufs, size_t n, void* token) {
  if (n == 0 || !size_) return Error::Invalid;
  bool seen_writable = false;
  for (size_t i = 0; i < n; ++i) {
    if (bufs[i].len == 0 || (seen_writable && !bufs[i].device_writes)) return Error::Invalid;
    seen_writable |= bufs[i].device_writes;
  }
  if (n > free_count_) return Error::NoSpace;
  uint16_t head = free_head_, cur = head;
  uint64_t writable = 0;
  for (size_t i = 0; i < n; ++i) {
    Desc& d = desc_[cur];
    d.addr = bufs[i].phys;
    d.len = bufs[i].len;
    d.flags = uint16_t((bufs[i].device_writes ? DESC_F_WRITE : 0) | (i + 1 < n ? DESC_F_NEXT : 0));
    d.next = i + 1 < n ? next_[cur] : 0;  // the chain's links are the free list's, in order
    if (bufs[i].device_writes) writable += bufs[i].len;
    cur = next_[cur];
  }
  free_head_ = cur;
  free_count_ = uint16_t(free_count_ - n);
  chain_len_[head] = uint16_t(n);
  writable_[head] = writable > UINT32_MAX ? UINT32_MAX : uint32_t(writable);
  tokens_[head] = token;
  avail_[2 + (avail_idx_ & (size_ - 1))] = head;  // §2.7.13.2: the head goes in the ring
  ++avail_idx_;
  return {};
}

bool Virtqueue::kick_prepare() {
  if (avail_idx_ == published_) return false;
  // §2.7.13.3: the ring entries before the index; the index before reading
  // the device's notification suppression flag.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  avail_[1] = avail_idx_;
  published_ = avail_idx_;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return !(used_[0] & USED_F_NO_NOTIFY);
}

bool Virtqueue::has_used() const {
  if (!size_) return false;
  uint16_t idx = used_[1];
  return idx != last_used_;
}

bool Virtqueue::pop_used(void** token, uint32_t* written) {
  while (has_used()) {
    std::atomic_thread_fence(std::memory_order_acquire);  // the entry after the index
    volatile UsedElem& e = used_ring()[last_used_ & (size_ - 1)];
    uint32_t id = e.id, len = e.len;
    ++last_used_;
    if (id >= size_ || chain_len_[id] == 0) {  // a broken device: skip the entry
      ++device_errors_;
      continue;
    }
    if (token) *token = tokens_[id];
    if (written) *written = len < writable_[id] ? len : writable_[id];
    tokens_[id] = nullptr;
    // Return the chain to the free list: its last descriptor links to
    // the old head (the chain's own links are already in next_).
    uint16_t n = chain_len_[id], last = uint16_t(id);
    for (uint16_t k = 1; k < n; ++k) last = next_[last];
    next_[last] = free_head_;
    free_head_ = uint16_t(id);
    free_count_ = uint16_t(free_count_ + n);
    chain_len_[id] = 0;
    return true;
  }
  return false;
}

void Virtqueue::disable_interrupts() { avail_[0] = AVAIL_F_NO_INTERRUPT; }
void Virtqueue::enable_interrupts() {
  avail_[0] = 0;
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace capsule::virtio
