#pragma once
// A flight recorder of fixed-size trace records (core/trace.h,
// docs/trace.md): one ring per CPU, written only by its CPU with
// interrupts off, so the writer takes no lock; when full, the oldest
// record is overwritten and counted as lost. Pure logic: the host unit
// tests build it too (tests/unit/trace_ring_test.cc).
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace capsule::trace {

// One event, 48 bytes, as it is stored and as the host reads it (the file
// format of docs/trace.md: little-endian, this layout).
struct Record {
  uint64_t tsc;      // the CPU's time stamp counter
  uint16_t event;    // core/trace.h Event
  uint16_t cpu;      // the CPU's index
  uint32_t tid;      // Linux tid of a program thread; kernel threads: 0x80000000 | id
  uint64_t arg[4];   // per event (docs/trace.md)
};
static_assert(sizeof(Record) == 48);

class Ring {
 public:
  // Over `capacity` slots (0: records are all lost).
  void init(Record* slots, uint32_t capacity) {
    slots_ = slots;
    capacity_ = capacity;
    next_ = 0;
    head_.store(0, std::memory_order_relaxed);
  }

  // The owning CPU, interrupts off: never nested, so no lock. `writing`
  // tells a reader on another CPU to wait (drain after stop).
  void push(const Record& r) {
    writing_.store(true, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (capacity_) {
      slots_[next_] = r;
      if (++next_ == capacity_) next_ = 0;  // no division on the writer's path
    }
    head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    writing_.store(false, std::memory_order_release);
  }

  bool writing() const { return writing_.load(std::memory_order_acquire); }
  // Records ever pushed, those overwritten (or never stored), and those
  // held now.
  uint64_t written() const { return head_.load(std::memory_order_acquire); }
  uint64_t lost() const { return written() > capacity_ ? written() - capacity_ : 0; }
  uint32_t held() const { return uint32_t(written() - lost()); }
  uint32_t capacity() const { return capacity_; }

  // The i-th record held, oldest first (i < held()). Writers stopped.
  const Record& at(uint32_t i) const { return slots_[(lost() + i) % capacity_]; }

 private:
  Record* slots_ = nullptr;
  uint32_t capacity_ = 0;
  uint32_t next_ = 0;  // the slot the next record goes to: written() % capacity_
  std::atomic<uint64_t> head_{0};
  std::atomic<bool> writing_{false};
};

}  // namespace capsule::trace
