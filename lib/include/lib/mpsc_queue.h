#pragma once
// Lock-free intrusive multi-producer single-consumer queue (the design
// Dmitry Vyukov published as the "intrusive MPSC node-based queue").
//
// Use: any CPU pushes (a wake-up handed to the CPU that owns a thread), only
// the owning CPU pops. push is wait-free: one atomic exchange and one store,
// never a loop, so it is safe with interrupts off on the producer. Nodes are
// embedded in the objects (MpscNode member): no allocation.
//
// The one subtlety: a producer is "in flight" between its exchange of head_
// and its store linking the previous node to it. While a producer is there,
// pop() returns nullptr although the queue is not empty (it cannot see past
// the gap). The producer finishes in a few instructions, so callers that
// were told there is work (an IPI, a flag) simply drain again, and a
// producer always follows its push with such a notification.
//
// FIFO per producer; pushes from different producers are ordered by their
// exchanges on head_. A node may be pushed again once it has been popped,
// never while it is still queued.
#include <atomic>

#include "lib/container_of.h"

namespace capsule {

struct MpscNode {
  std::atomic<MpscNode*> next{nullptr};
};

template <typename T, MpscNode T::*Member>
class MpscQueue {
 public:
  MpscQueue() : head_(&stub_), tail_(&stub_) {}
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;

  // Any thread / CPU.
  void push(T& t) { push_node(&(t.*Member)); }

  // Consumer only. nullptr when empty or when a producer is in flight.
  T* pop() {
    MpscNode* tail = tail_;
    MpscNode* next = tail->next.load(std::memory_order_acquire);
    if (tail == &stub_) {
      // Skip the stub; it only keeps the list non-empty.
      if (!next) return nullptr;
      tail_ = tail = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next) {
      tail_ = next;
      return owner(tail);
    }
    // tail is the last linked node. If head_ is elsewhere, a producer has
    // exchanged head_ but not linked yet: come back later.
    if (tail != head_.load(std::memory_order_acquire)) return nullptr;
    // Re-insert the stub behind tail so tail can be handed out while the
    // queue keeps one node.
    push_node(&stub_);
    next = tail->next.load(std::memory_order_acquire);
    if (next) {
      tail_ = next;
      return owner(tail);
    }
    return nullptr;  // another producer slipped in between; retry later
  }

  // Consumer only; true when nothing at all has been pushed and not popped
  // (in-flight pushes count as present).
  bool empty() const {
    return tail_ == &stub_ && stub_.next.load(std::memory_order_acquire) == nullptr &&
           head_.load(std::memory_order_acquire) == &stub_;
  }

 private:
  static T* owner(MpscNode* n) { return owner_of<Member>(n); }

  void push_node(MpscNode* n) {
    n->next.store(nullptr, std::memory_order_relaxed);
    // acq_rel: release publishes n (and the object's fields written before
    // push) to the consumer; acquire orders us after the previous producer.
    MpscNode* prev = head_.exchange(n, std::memory_order_acq_rel);
    prev->next.store(n, std::memory_order_release);  // closes the gap
  }

  alignas(64) std::atomic<MpscNode*> head_;  // producers
  alignas(64) MpscNode* tail_;               // consumer
  MpscNode stub_;
};

}  // namespace capsule
