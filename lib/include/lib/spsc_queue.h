#pragma once
// Bounded lock-free single-producer single-consumer ring.
//
// One CPU pushes, one CPU pops (e.g. a CPU handing work to a fixed peer).
// head_ is written only by the consumer and tail_ only by the producer; each
// side publishes its index with a release store and reads the other's with
// an acquire load, so a slot's contents are visible before the index that
// hands it over. Indices run freely and are masked, so full and empty are
// told apart without wasting a slot. Each side also caches the other's last
// seen index to avoid touching the shared cache line on every call.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace capsule {

template <typename T, size_t Capacity>
class SpscQueue {
  static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0, "capacity: power of two");
  static_assert(std::is_default_constructible_v<T> && std::is_move_assignable_v<T>);

 public:
  // Producer only. False when full.
  bool try_push(T v) {
    uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ == Capacity) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ == Capacity) return false;
    }
    slots_[tail & MASK] = std::move(v);
    tail_.store(tail + 1, std::memory_order_release);  // publishes the slot
    return true;
  }

  // Consumer only. False when empty.
  bool try_pop(T& out) {
    uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    out = std::move(slots_[head & MASK]);
    head_.store(head + 1, std::memory_order_release);  // returns the slot
    return true;
  }

  // Approximate from any other thread; exact from either end when the other
  // end is quiet.
  size_t size() const {
    return size_t(tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire));
  }
  bool empty() const { return size() == 0; }
  static constexpr size_t capacity() { return Capacity; }

 private:
  static constexpr uint64_t MASK = Capacity - 1;
  static constexpr size_t CACHE_LINE = 64;  // x86-64 cache line

  // Consumer's line.
  alignas(CACHE_LINE) std::atomic<uint64_t> head_{0};
  uint64_t tail_cache_ = 0;
  // Producer's line.
  alignas(CACHE_LINE) std::atomic<uint64_t> tail_{0};
  uint64_t head_cache_ = 0;
  alignas(CACHE_LINE) T slots_[Capacity]{};
};

}  // namespace capsule
