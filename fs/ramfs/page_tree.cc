#include "fs/ramfs/page_tree.h"

#include <new>

namespace capsule::ramfs {
namespace {

uint64_t span_of(unsigned height) {
  // 512^height, saturating (height 8 would pass 2^64).
  return height >= 7 ? ~uint64_t(0) : uint64_t(1) << (9 * height);
}

}  // namespace

PageTree::~PageTree() {
  size_t freed = 0;
  Visitor none{nullptr, [](void*, uint8_t*) {}};
  if (root_ && truncate_node(root_, height_, 0, 0, none, freed)) root_ = nullptr;
}

uint8_t* PageTree::get(uint64_t index) const {
  if (!root_ || index >= span_of(height_)) return nullptr;
  Node* n = root_;
  for (unsigned level = height_; level > 1; --level) {
    n = static_cast<Node*>(n->slot[(index >> (BITS * (level - 1))) & (FANOUT - 1)]);
    if (!n) return nullptr;
  }
  return static_cast<uint8_t*>(n->slot[index & (FANOUT - 1)]);
}

Result<void> PageTree::set(uint64_t index, uint8_t* page) {
  if (!page) {
    // Clearing one slot: a truncate of a single index would free the rest;
    // walk down instead and leave empty nodes for the next truncate.
    if (!root_ || index >= span_of(height_)) return {};
    Node* n = root_;
    for (unsigned level = height_; level > 1; --level) {
      n = static_cast<Node*>(n->slot[(index >> (BITS * (level - 1))) & (FANOUT - 1)]);
      if (!n) return {};
    }
    void*& s = n->slot[index & (FANOUT - 1)];
    if (s) --count_;
    s = nullptr;
    return {};
  }
  // Grow until the index fits: the old root becomes child 0 of a new one.
  while (!root_ || index >= span_of(height_)) {
    auto* n = new (std::nothrow) Node{};
    if (!n) return Error::NoMemory;
    if (root_) n->slot[0] = root_;
    root_ = n;
    ++height_;
  }
  Node* n = root_;
  for (unsigned level = height_; level > 1; --level) {
    void*& s = n->slot[(index >> (BITS * (level - 1))) & (FANOUT - 1)];
    if (!s) {
      s = new (std::nothrow) Node{};
      if (!s) return Error::NoMemory;  // the empty nodes made so far stay: harmless
    }
    n = static_cast<Node*>(s);
  }
  void*& s = n->slot[index & (FANOUT - 1)];
  if (!s) ++count_;
  s = page;
  return {};
}

uint64_t PageTree::next_present(uint64_t from) const {
  if (!root_ || from >= span_of(height_)) return ~uint64_t(0);
  return next_in(root_, height_, 0, from);
}

// Recursion depth is the tree's height (at most 7).
uint64_t PageTree::next_in(const Node* n, unsigned level, uint64_t base, uint64_t from) {
  const uint64_t child_span = span_of(level - 1);
  unsigned i = from > base ? unsigned((from - base) / child_span) : 0;
  for (; i < FANOUT; ++i) {
    if (!n->slot[i]) continue;
    const uint64_t child_base = base + i * child_span;
    if (level == 1) return child_base;
    uint64_t r = next_in(static_cast<const Node*>(n->slot[i]), level - 1, child_base, from);
    if (r != ~uint64_t(0)) return r;
  }
  return ~uint64_t(0);
}

size_t PageTree::truncate_impl(uint64_t first, Visitor& v) {
  size_t freed = 0;
  if (root_ && first < span_of(height_) && truncate_node(root_, height_, 0, first, v, freed)) {
    root_ = nullptr;
    height_ = 0;
  }
  count_ -= freed;
  return freed;
}

bool PageTree::truncate_node(Node* n, unsigned level, uint64_t base, uint64_t first, Visitor& v, size_t& freed) {
  uint64_t child_span = span_of(level - 1);
  bool empty = true;
  for (unsigned i = 0; i < FANOUT; ++i) {
    if (!n->slot[i]) continue;
    uint64_t child_base = base + i * child_span;
    if (level == 1) {
      if (child_base >= first) {
        if (v.fn) v.fn(v.ctx, static_cast<uint8_t*>(n->slot[i]));
        n->slot[i] = nullptr;
        ++freed;
      } else {
        empty = false;
      }
      continue;
    }
    // Children wholly below `first` are kept as they are.
    if (child_base + child_span <= first) {
      empty = false;
      continue;
    }
    if (truncate_node(static_cast<Node*>(n->slot[i]), level - 1, child_base, first, v, freed)) {
      n->slot[i] = nullptr;
    } else {
      empty = false;
    }
  }
  if (empty) delete n;
  return empty;
}

}  // namespace capsule::ramfs
