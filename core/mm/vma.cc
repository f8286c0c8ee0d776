#include "core/mm/vma.h"

#include <new>

namespace capsule::mm {
namespace {

constexpr uintptr_t page_down(uintptr_t v) { return v & ~uintptr_t(PAGE_SIZE - 1); }
constexpr uintptr_t page_up(uintptr_t v) { return (v + PAGE_SIZE - 1) & ~uintptr_t(PAGE_SIZE - 1); }
constexpr uintptr_t min(uintptr_t a, uintptr_t b) { return a < b ? a : b; }
constexpr uintptr_t max(uintptr_t a, uintptr_t b) { return a > b ? a : b; }

// Where a VMA's territory begins for placement: a grows-down VMA keeps
// STACK_GUARD_GAP free below it (Linux's vm_start_gap).
uintptr_t start_gap(const Vma& v) {
  if (!(v.flags & VM_GROWSDOWN)) return v.start;
  return v.start - USER_START > STACK_GUARD_GAP ? v.start - STACK_GUARD_GAP : USER_START;
}

// A user range [addr, addr + page_up(len)) that fits in the lower half, or 0.
// A VMA starts or stops counting in its backing's figures.
void count_map(const Vma& v, int delta) {
  if (!v.backing) return;
  const bool writable = (v.flags & VM_SHARED) && !(v.flags & VM_NOWRITE);
  if (delta > 0) {
    v.backing->vm_maps.fetch_add(1, std::memory_order_acq_rel);
    if (writable) v.backing->vm_writable_maps.fetch_add(1, std::memory_order_acq_rel);
  } else {
    if (writable) v.backing->vm_writable_maps.fetch_sub(1, std::memory_order_release);
    v.backing->vm_maps.fetch_sub(1, std::memory_order_release);
  }
}

uintptr_t range_end(uintptr_t addr, size_t len) {
  if (len > USER_END || addr > USER_END) return 0;
  uintptr_t end = addr + page_up(len);
  return end <= USER_END ? end : 0;
}

}  // namespace

VmaSet::~VmaSet() {
  while (Vma* v = tree_.pop_first()) free_node(v);
  release_dropped(take_dropped());
  release_spares();
}

// ---- nodes ----------------------------------------------------------------

Result<void> VmaSet::reserve_nodes(size_t n) {
  while (spare_count_ < n) {
    Vma* v = new (std::nothrow) Vma;
    if (!v) return Error::NoMemory;
    spare_[spare_count_++] = v;
  }
  return {};
}

Vma* VmaSet::take_node() {
  // Callers reserve first; an empty reserve is a bug in this file.
  Vma* v = spare_[--spare_count_];
  new (v) Vma;
  return v;
}

// A node with a backing waits on the dropped list (take_dropped): its
// reference goes when the caller has let go of its locks.
void VmaSet::free_node(Vma* v) {
  if (v->backing) {
    count_map(*v, -1);
    v->next_dropped = dropped_;
    dropped_ = v;
    return;
  }
  delete v;
}

void VmaSet::release_dropped(Vma* d) {
  while (d) {
    Vma* next = d->next_dropped;
    d->backing->release();
    delete d;
    d = next;
  }
}

void VmaSet::release_spares() {
  while (spare_count_) delete spare_[--spare_count_];
}

Result<void> VmaSet::copy_from(const VmaSet& o) {
  mmap_base_ = o.mmap_base_;
  max_count_ = o.max_count_;
  stack_limit_ = o.stack_limit_;
  brk_start_ = o.brk_start_;
  brk_ = o.brk_;
  for (Vma* s = o.first(); s; s = next(*s)) {
    if (s->flags & VM_DONTCOPY) continue;  // madvise(2) MADV_DONTFORK
    TRY(reserve_nodes(1));
    insert_new(s->start, s->end, s->prot, s->flags, s->backing, s->offset);
  }
  return {};
}

// ---- queries --------------------------------------------------------------

Vma* VmaSet::first_ending_after(uintptr_t addr) const {
  return tree_.partition_point([addr](const Vma& v) { return v.end <= addr; });
}

Vma* VmaSet::find(uintptr_t addr) const {
  Vma* v = first_ending_after(addr);
  return v && v->start <= addr ? v : nullptr;
}

bool VmaSet::overlaps(uintptr_t start, uintptr_t end) const {
  Vma* v = first_ending_after(start);
  return v && v->start < end;
}

bool VmaSet::range_free(uintptr_t start, uintptr_t end) const {
  Vma* v = first_ending_after(start);
  return !v || end <= start_gap(*v);
}

bool VmaSet::fully_mapped(uintptr_t start, uintptr_t end) const {
  uintptr_t cursor = start;
  for (Vma* v = first_ending_after(start); v && v->start < end; v = next(*v)) {
    if (v->start > cursor) return false;
    cursor = v->end;
  }
  return cursor >= end;
}

// Unmapping [start, end) adds a VMA only when one VMA sticks out on both sides.
size_t VmaSet::unmap_splits(uintptr_t start, uintptr_t end) const {
  Vma* v = find(start);
  return v && v->start < start && v->end > end ? 1 : 0;
}

// Top-down below mmap_base (Linux's default layout), then bottom-up above it
// (Linux's fallback when the top-down search fails).
Result<uintptr_t> VmaSet::find_gap(size_t len) const {
  const uintptr_t top = min(mmap_base_, USER_END);
  Vma* above = tree_.partition_point([top](const Vma& v) { return v.start < top; });
  Vma* below = above ? Tree::prev(*above) : tree_.last();
  uintptr_t hi = above ? min(top, start_gap(*above)) : top;
  for (;;) {
    uintptr_t lo = below ? below->end : USER_START;
    if (hi > lo && hi - lo >= len) return hi - len;
    if (!below) break;
    hi = min(hi, start_gap(*below));
    below = Tree::prev(*below);
  }
  uintptr_t lo = top;
  for (Vma* v = first_ending_after(top);; v = next(*v)) {
    uintptr_t hi2 = v ? start_gap(*v) : USER_END;
    if (hi2 > lo && hi2 - lo >= len) return lo;
    if (!v) break;
    lo = max(lo, v->end);
  }
  return Error::NoMemory;
}

// The lowest gap of len bytes in [LOW_WINDOW_START, LOW_WINDOW_END).
Result<uintptr_t> VmaSet::find_gap_low(size_t len) const {
  uintptr_t lo = LOW_WINDOW_START;
  for (Vma* v = first_ending_after(lo);; v = next(*v)) {
    uintptr_t hi = v ? min(start_gap(*v), LOW_WINDOW_END) : LOW_WINDOW_END;
    if (hi > lo && hi - lo >= len) return lo;
    if (!v || v->end >= LOW_WINDOW_END) break;
    lo = max(lo, v->end);
  }
  return Error::NoMemory;
}

// ---- structural edits -----------------------------------------------------

Vma* VmaSet::split(Vma& v, uintptr_t at) {
  Vma* r = take_node();
  r->start = at;
  r->end = v.end;
  r->prot = v.prot;
  r->flags = v.flags;
  r->backing = v.backing;
  r->offset = v.offset + (at - v.start);
  if (r->backing) {
    r->backing->retain();
    count_map(*r, +1);
  }
  v.end = at;
  tree_.insert(*r);
  return r;
}

Vma* VmaSet::insert_new(uintptr_t start, uintptr_t end, uint32_t prot, uint32_t flags, VmBacking* b,
                        uint64_t offset) {
  Vma* v = take_node();
  v->start = start;
  v->end = end;
  v->prot = prot;
  v->flags = flags;
  v->backing = b;
  v->offset = offset;
  if (b) {
    b->retain();
    count_map(*v, +1);
  }
  tree_.insert(*v);
  return v;
}

// Trimming a VMA in place keeps the tree ordered: ranges are disjoint, so
// shrinking one never moves it past a neighbour.
void VmaSet::remove_range(uintptr_t start, uintptr_t end, VmaObserver* obs) {
  Vma* v = first_ending_after(start);
  while (v && v->start < end) {
    Vma* nx = next(*v);
    if (obs) obs->unmap_pages(*v, max(v->start, start), min(v->end, end));
    if (v->start < start && v->end > end) {
      split(*v, end);
      v->end = start;
      return;
    }
    if (v->start < start) {
      v->end = start;
    } else if (v->end > end) {
      v->offset += end - v->start;
      v->start = end;
    } else {
      tree_.remove(*v);
      free_node(v);
    }
    v = nx;
  }
}

bool VmaSet::mergeable(const Vma& a, const Vma& b) {
  return a.end == b.start && a.prot == b.prot && a.flags == b.flags && a.backing == b.backing &&
         (a.anonymous() || b.offset == a.offset + a.size());
}

// Merges compatible neighbours from the VMA ending at `start` through the one
// starting at `end`: the only places an edit of [start, end) can create them.
void VmaSet::merge_around(uintptr_t start, uintptr_t end) {
  Vma* v = first_ending_after(start ? start - 1 : 0);
  while (v) {
    Vma* n = next(*v);
    if (!n || n->start > end) return;
    if (mergeable(*v, *n)) {
      v->end = n->end;
      tree_.remove(*n);
      free_node(n);
    } else {
      v = n;
    }
  }
}

// ---- operations -----------------------------------------------------------

Result<uintptr_t> VmaSet::map(const MapRequest& req, VmaObserver& obs) {
  if (req.len == 0 || (req.prot & ~VM_PROT_MASK) || req.offset % PAGE_SIZE) return Error::Invalid;
  if (req.len > USER_END - USER_START) return Error::NoMemory;
  const size_t len = page_up(req.len);
  if (req.backing && req.offset + len < req.offset) return Error::Range;  // EOVERFLOW

  uintptr_t start;
  if (req.placement != Placement::Hint) {
    if (req.addr % PAGE_SIZE) return Error::Invalid;
    if (req.addr < USER_START) return Error::Permission;  // below mmap_min_addr: EPERM
    if (req.addr > USER_END - len) return Error::NoMemory;
    start = req.addr;
    if (req.placement == Placement::FixedNoReplace && overlaps(start, start + len)) return Error::Exists;
  } else if (req.low_window) {
    uintptr_t hint = req.addr <= USER_END ? page_up(req.addr) : 0;
    if (hint >= LOW_WINDOW_START && len <= LOW_WINDOW_END - hint && range_free(hint, hint + len))
      start = hint;
    else
      start = TRY(find_gap_low(len));
  } else {
    uintptr_t hint = req.addr <= USER_END ? page_up(req.addr) : 0;
    if (hint >= USER_START && hint <= USER_END - len && range_free(hint, hint + len))
      start = hint;
    else
      start = TRY(find_gap(len));
  }
  const uintptr_t end = start + len;
  const size_t splits = req.placement == Placement::Fixed ? unmap_splits(start, end) : 0;
  if (!within_limit(splits + 1)) return Error::NoMemory;
  TRY(reserve_nodes(splits + 1));

  if (req.placement == Placement::Fixed) remove_range(start, end, &obs);
  insert_new(start, end, req.prot, req.flags, req.backing, req.offset);
  merge_around(start, end);
  return start;
}

Result<void> VmaSet::unmap(uintptr_t addr, size_t len, VmaObserver& obs) {
  // munmap(2): EINVAL for a misaligned start, len 0, or a range past TASK_SIZE.
  if (addr % PAGE_SIZE || len == 0) return Error::Invalid;
  uintptr_t end = range_end(addr, len);
  if (!end) return Error::Invalid;
  const size_t splits = unmap_splits(addr, end);
  if (!within_limit(splits)) return Error::NoMemory;
  TRY(reserve_nodes(splits));
  remove_range(addr, end, &obs);
  return {};
}

// protect() and change_flags(): make every VMA of a fully mapped range carry
// the new attributes, splitting at the range's ends where they change.
template <typename F>
Result<void> VmaSet::change(uintptr_t addr, size_t len, F&& apply_to, VmaObserver* obs) {
  if (addr % PAGE_SIZE) return Error::Invalid;
  if (len == 0) return {};
  uintptr_t end = range_end(addr, len);
  if (!end || !fully_mapped(addr, end)) return Error::NoMemory;

  size_t splits = 0;
  for (Vma* v = first_ending_after(addr); v && v->start < end; v = next(*v)) {
    uint32_t prot = v->prot, flags = v->flags;
    apply_to(prot, flags);
    if (prot == v->prot && flags == v->flags) continue;
    splits += (v->start < addr) + (v->end > end);
  }
  if (!within_limit(splits)) return Error::NoMemory;
  TRY(reserve_nodes(splits));

  for (Vma* v = first_ending_after(addr); v && v->start < end; v = next(*v)) {
    uint32_t prot = v->prot, flags = v->flags;
    apply_to(prot, flags);
    if (prot == v->prot && flags == v->flags) continue;
    if (v->start < addr) v = split(*v, addr);
    if (v->end > end) split(*v, end);
    const bool prot_changed = prot != v->prot;
    v->prot = prot;
    v->flags = flags;
    if (obs && prot_changed) obs->protect_pages(v->start, v->end, prot);
  }
  merge_around(addr, end);
  return {};
}

Result<void> VmaSet::protect(uintptr_t addr, size_t len, uint32_t prot, VmaObserver& obs) {
  if (prot & ~VM_PROT_MASK) return Error::Invalid;
  return change(addr, len, [prot](uint32_t& p, uint32_t&) { p = prot; }, &obs);
}

Result<void> VmaSet::change_flags(uintptr_t addr, size_t len, uint32_t set, uint32_t clear) {
  return change(addr, len, [set, clear](uint32_t&, uint32_t& f) { f = (f | set) & ~clear; }, nullptr);
}

Result<uintptr_t> VmaSet::remap(uintptr_t old_addr, size_t old_len, size_t new_len, uint32_t flags,
                                uintptr_t new_addr, VmaObserver& obs) {
  if (old_addr % PAGE_SIZE || (flags & ~(REMAP_MAYMOVE | REMAP_FIXED))) return Error::Invalid;
  if ((flags & REMAP_FIXED) && !(flags & REMAP_MAYMOVE)) return Error::Invalid;
  if (old_len > USER_END || new_len > USER_END) return Error::NoMemory;
  old_len = page_up(old_len);
  new_len = page_up(new_len);
  // old_len 0 duplicates a shared mapping in Linux; not supported here.
  if (new_len == 0 || old_len == 0) return Error::Invalid;
  const bool fixed = flags & REMAP_FIXED;
  if (fixed) {
    if (new_addr % PAGE_SIZE || new_addr < USER_START || new_addr > USER_END - new_len) return Error::Invalid;
    if (new_addr < old_addr + old_len && old_addr < new_addr + new_len) return Error::Invalid;
  }
  Vma* v = find(old_addr);
  if (!v || old_len > v->end - old_addr) return Error::Fault;

  // Moves [old_addr, old_addr + moved) to [dest, dest + new_len).
  auto move = [&](uintptr_t dest, size_t moved) -> Result<void> {
    TRY(obs.move_pages(old_addr, dest, moved));
    Vma* src = find(old_addr);
    const uint32_t prot = src->prot, vflags = src->flags;
    VmBacking* b = src->backing;
    const uint64_t off = src->offset + (old_addr - src->start);
    if (b) b->retain();  // across remove_range, which may drop src's reference
    remove_range(old_addr, old_addr + moved, nullptr);
    insert_new(dest, dest + new_len, prot, vflags, b, off);
    if (b) b->release();
    merge_around(dest, dest + new_len);
    return {};
  };

  if (fixed) {
    // Worst case: a split at the destination, at the old tail, at the source,
    // and the new VMA.
    const size_t need = unmap_splits(new_addr, new_addr + new_len) + (old_len > new_len) + 2;
    if (!within_limit(need)) return Error::NoMemory;
    TRY(reserve_nodes(need));
    remove_range(new_addr, new_addr + new_len, &obs);
    if (old_len > new_len) {
      remove_range(old_addr + new_len, old_addr + old_len, &obs);
      old_len = new_len;
    }
    TRY(move(new_addr, old_len));
    return new_addr;
  }
  if (new_len <= old_len) {
    if (new_len < old_len) TRY(unmap(old_addr + new_len, old_len - new_len, obs));
    return old_addr;
  }
  if (old_addr + old_len == v->end) {
    const uintptr_t grown = v->end + (new_len - old_len);
    if (grown <= USER_END && !overlaps(v->end, grown)) {
      v->end = grown;
      merge_around(v->start, v->end);
      return old_addr;
    }
  }
  if (!(flags & REMAP_MAYMOVE)) return Error::NoMemory;
  const uintptr_t dest = TRY(find_gap(new_len));
  const size_t need = 1 + (v->start < old_addr && old_addr + old_len < v->end);
  if (!within_limit(need)) return Error::NoMemory;
  TRY(reserve_nodes(need));
  TRY(move(dest, old_len));
  return dest;
}

void VmaSet::set_brk_base(uintptr_t base) { brk_start_ = brk_ = page_up(base); }

uintptr_t VmaSet::brk(uintptr_t new_brk, VmaObserver& obs) {
  if (!brk_start_ || new_brk < brk_start_ || new_brk > USER_END) return brk_;
  const uintptr_t old_end = page_up(brk_), new_end = page_up(new_brk);
  if (new_end < old_end) {
    if (!unmap(new_end, old_end - new_end, obs)) return brk_;
  } else if (new_end > old_end) {
    // The new pages must be free, and at least a page must stay between the
    // heap and the next mapping (Linux's brk checks newbrk + PAGE_SIZE
    // against the next VMA's start gap).
    Vma* nx = first_ending_after(old_end);
    if (nx && (nx->start < new_end || new_end + PAGE_SIZE > start_gap(*nx))) return brk_;
    if (!within_limit(1) || !reserve_nodes(1)) return brk_;
    insert_new(old_end, new_end, VM_READ | VM_WRITE, 0, nullptr, 0);
    merge_around(old_end, new_end);
  }
  brk_ = new_brk;
  return brk_;
}

Vma* VmaSet::grow_stack(uintptr_t addr) {
  Vma* v = first_ending_after(addr);
  if (!v || v->start <= addr || !(v->flags & VM_GROWSDOWN)) return nullptr;
  const uintptr_t start = page_down(addr);
  if (start < USER_START || v->end - start > stack_limit_) return nullptr;
  Vma* p = Tree::prev(*v);
  if (p && p->end + STACK_GUARD_GAP > start) return nullptr;
  if (v->backing) {
    if (v->offset < v->start - start) return nullptr;
    v->offset -= v->start - start;
  }
  v->start = start;
  return v;
}

void VmaSet::clear(VmaObserver& obs) {
  while (Vma* v = tree_.pop_first()) {
    obs.unmap_pages(*v, v->start, v->end);
    free_node(v);
  }
  brk_ = brk_start_;
}

bool VmaSet::check() const {
  const Vma* prev = nullptr;
  for (const Vma* v = first(); v; v = next(*v)) {
    if (v->start >= v->end || v->start % PAGE_SIZE || v->end % PAGE_SIZE) return false;
    if (v->start < USER_START || v->end > USER_END) return false;
    if (prev && (prev->end > v->start || mergeable(*prev, *v))) return false;
    prev = v;
  }
  return tree_.check();
}

}  // namespace capsule::mm
