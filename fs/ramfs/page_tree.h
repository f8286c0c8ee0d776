#pragma once
// A sparse array of pages indexed by page number: a radix tree of 512-way
// nodes (one 4 KiB node per level, like x86-64 page tables), as tall as the
// largest index needs. Absent slots are holes. O(height) lookups, nodes
// allocated on demand and freed when they empty.
//
// Not thread-safe: the file that owns it holds its lock.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::ramfs {

class PageTree {
 public:
  static constexpr unsigned BITS = 9;
  static constexpr unsigned FANOUT = 1u << BITS;

  PageTree() = default;
  PageTree(const PageTree&) = delete;
  PageTree& operator=(const PageTree&) = delete;
  // The pages themselves must have been freed (truncate(0, ...)).
  ~PageTree();

  uint8_t* get(uint64_t index) const;
  // Stores `page` at index (nullptr clears it). NoMemory if an interior node
  // cannot be allocated (nothing changes then).
  Result<void> set(uint64_t index, uint8_t* page);
  // Removes every page at index >= first, handing each to free_page; returns
  // how many there were.
  template <typename F>
  size_t truncate(uint64_t first, F&& free_page) {
    Visitor v{&free_page, [](void* ctx, uint8_t* p) { (*static_cast<F*>(ctx))(p); }};
    return truncate_impl(first, v);
  }
  size_t count() const { return count_; }
  // The first index >= from that holds a page, ~0 if none: skips empty
  // subtrees whole (SEEK_DATA, mapping a sparse file).
  uint64_t next_present(uint64_t from) const;

 private:
  struct Node {
    void* slot[FANOUT];
  };
  struct Visitor {
    void* ctx;
    void (*fn)(void*, uint8_t*);
  };
  size_t truncate_impl(uint64_t first, Visitor& v);
  // next_present's walk of `n` (at `level`, covering indices from `base`).
  static uint64_t next_in(const Node* n, unsigned level, uint64_t base, uint64_t from);
  // Frees everything in `n` (at `level`, 1 = leaves) at index >= first,
  // relative to the node's base; true if the node is now empty.
  bool truncate_node(Node* n, unsigned level, uint64_t base, uint64_t first, Visitor& v, size_t& freed);

  Node* root_ = nullptr;
  unsigned height_ = 0;  // levels; covers indices < 512^height_
  size_t count_ = 0;
};

}  // namespace capsule::ramfs
