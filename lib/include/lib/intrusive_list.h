#pragma once
// Intrusive doubly linked list, declared by member:
//
//   struct Thread { ListNode run_node; ... };
//   IntrusiveList<Thread, &Thread::run_node> runnable;
//
// Circular with a sentinel, so insert and remove are O(1) with no branches
// on "first/last". Nodes live in the objects: nothing is allocated, which is
// what scheduler and IRQ paths need. An object can be on as many lists as it
// has ListNode members, and on at most one list per member.
//
// Not thread-safe: the owner of the list holds whatever lock guards it.
#include <cstddef>

#include "lib/container_of.h"

namespace capsule {

class ListNode {
 public:
  ListNode() = default;
  ListNode(const ListNode&) = delete;
  ListNode& operator=(const ListNode&) = delete;

  bool linked() const { return next_ != nullptr; }

 private:
  template <typename T, ListNode T::*>
  friend class IntrusiveList;

  void insert_before(ListNode* pos) {
    next_ = pos;
    prev_ = pos->prev_;
    prev_->next_ = this;
    pos->prev_ = this;
  }
  void unlink() {
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = next_ = nullptr;
  }

  ListNode* prev_ = nullptr;
  ListNode* next_ = nullptr;
};

template <typename T, ListNode T::*Member>
class IntrusiveList {
 public:
  IntrusiveList() { head_.prev_ = head_.next_ = &head_; }
  // The sentinel points at itself: the list cannot be copied or moved.
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;
  ~IntrusiveList() { clear(); }

  bool empty() const { return head_.next_ == &head_; }
  size_t size() const { return size_; }

  void push_back(T& t) { insert_before(end(), t); }
  void push_front(T& t) { insert_before(begin(), t); }

  T* front() { return empty() ? nullptr : to_owner(head_.next_); }
  T* back() { return empty() ? nullptr : to_owner(head_.prev_); }
  const T* front() const { return const_cast<IntrusiveList*>(this)->front(); }
  const T* back() const { return const_cast<IntrusiveList*>(this)->back(); }

  T* pop_front() {
    T* t = front();
    if (t) remove(*t);
    return t;
  }
  T* pop_back() {
    T* t = back();
    if (t) remove(*t);
    return t;
  }

  // O(1). The caller must know t is on *this* list (contains() checks, O(n)).
  void remove(T& t) {
    (t.*Member).unlink();
    --size_;
  }

  static bool is_linked(const T& t) { return (t.*Member).linked(); }

  bool contains(const T& t) const {
    for (const ListNode* n = head_.next_; n != &head_; n = n->next_)
      if (n == &(t.*Member)) return true;
    return false;
  }

  // Unlinks everything (the objects are not owned, only forgotten).
  void clear() {
    while (!empty()) pop_front();
  }

  class Iterator {
   public:
    Iterator() = default;
    T& operator*() const { return *to_owner(node_); }
    T* operator->() const { return to_owner(node_); }
    Iterator& operator++() {
      node_ = node_->next_;
      return *this;
    }
    Iterator& operator--() {
      node_ = node_->prev_;
      return *this;
    }
    bool operator==(const Iterator&) const = default;

   private:
    friend class IntrusiveList;
    explicit Iterator(ListNode* n) : node_(n) {}
    ListNode* node_ = nullptr;
  };

  Iterator begin() { return Iterator(head_.next_); }
  Iterator end() { return Iterator(&head_); }

  // Inserts t before pos (end() appends).
  void insert_before(Iterator pos, T& t) {
    (t.*Member).insert_before(pos.node_);
    ++size_;
  }

 private:
  static T* to_owner(ListNode* n) { return owner_of<Member>(n); }

  ListNode head_;
  size_t size_ = 0;
};

}  // namespace capsule
