#pragma once
// Intrusive red-black tree, declared by member and ordered by a comparator:
//
//   struct ByDeadline { bool operator()(const Timer& a, const Timer& b) const; };
//   IntrusiveRbTree<Timer, &Timer::node, ByDeadline> timers;
//
// Why a red-black tree: the scheduler and the timer queue both need "smallest
// key" in O(1), insert and removal of an arbitrary element in O(log n)
// *worst case* (these run with interrupts off, so amortized bounds are not
// good enough), in-order walks, and no allocation. The leftmost and rightmost
// nodes are cached.
//
// Equal keys keep insertion order (a new node goes after its equals), so
// timers with the same deadline fire in the order they were armed.
//
// The balancing code is type-erased in lib/rbtree.cc: one copy in the kernel
// however many trees there are. Not thread-safe: the owner holds the lock.
#include <cstddef>

#include "lib/container_of.h"

namespace capsule {

class RbNode {
 public:
  RbNode() = default;
  RbNode(const RbNode&) = delete;
  RbNode& operator=(const RbNode&) = delete;

  bool linked() const { return linked_; }

  RbNode* parent = nullptr;
  RbNode* left = nullptr;
  RbNode* right = nullptr;
  bool red = false;
  bool linked_ = false;
};

struct RbRoot {
  RbNode* root = nullptr;
  RbNode* leftmost = nullptr;
  RbNode* rightmost = nullptr;
};

// Type-erased core (lib/rbtree.cc).
// Links `node` as a child of `parent` (nullptr: the tree is empty) on the
// given side and rebalances.
void rb_link(RbRoot& t, RbNode* node, RbNode* parent, bool as_left_child);
void rb_erase(RbRoot& t, RbNode* node);
RbNode* rb_next(const RbNode* node);
RbNode* rb_prev(const RbNode* node);
// Debug/test: checks every red-black invariant; returns the black height or
// -1 if broken.
int rb_check(const RbRoot& t);

template <typename T, RbNode T::*Member, typename Less>
class IntrusiveRbTree {
 public:
  IntrusiveRbTree() = default;
  IntrusiveRbTree(const IntrusiveRbTree&) = delete;
  IntrusiveRbTree& operator=(const IntrusiveRbTree&) = delete;

  bool empty() const { return t_.root == nullptr; }
  size_t size() const { return size_; }

  // O(log n). t must not be in any tree through this member.
  void insert(T& t) {
    RbNode* parent = nullptr;
    RbNode* cur = t_.root;
    bool left = false;
    while (cur) {
      parent = cur;
      // Ties go right: FIFO among equal keys.
      left = Less{}(t, *to_owner(cur));
      cur = left ? cur->left : cur->right;
    }
    rb_link(t_, &(t.*Member), parent, left);
    ++size_;
  }

  // O(log n). t must be in this tree.
  void remove(T& t) {
    rb_erase(t_, &(t.*Member));
    --size_;
  }

  static bool is_linked(const T& t) { return (t.*Member).linked(); }

  T* first() const { return t_.leftmost ? to_owner(t_.leftmost) : nullptr; }
  T* last() const { return t_.rightmost ? to_owner(t_.rightmost) : nullptr; }
  static T* next(const T& t) { return owner_or_null(rb_next(&(t.*Member))); }
  static T* prev(const T& t) { return owner_or_null(rb_prev(&(t.*Member))); }

  T* pop_first() {
    T* t = first();
    if (t) remove(*t);
    return t;
  }

  // O(log n): the first element (in order) for which `before(e)` is false,
  // or nullptr. `before` must hold for a prefix of the order and fail for
  // the rest, like std::partition_point: e.g. [&](const Vma& v) { return
  // v.end <= addr; } finds the first range ending above addr.
  template <typename Before>
  T* partition_point(Before before) const {
    RbNode* cur = t_.root;
    RbNode* found = nullptr;
    while (cur) {
      if (before(*to_owner(cur))) {
        cur = cur->right;
      } else {
        found = cur;
        cur = cur->left;
      }
    }
    return owner_or_null(found);
  }

  bool check() const { return rb_check(t_) >= 0; }

 private:
  static T* to_owner(RbNode* n) { return owner_of<Member>(n); }
  static T* owner_or_null(RbNode* n) { return n ? to_owner(n) : nullptr; }

  RbRoot t_;
  size_t size_ = 0;
};

}  // namespace capsule
