// File change notification (fs/include/fs/vfs/notify.h, docs/inotify.md).
//
// One lock (the notify lock) guards every watch list: a vnode's (its
// watches_, singly linked, and watch_mask_, the union of their masks), a
// group's, and the list of all watches. Hooks test the masks without it;
// a watch added while an event is on its way may miss that event, as on
// Linux. Vnode references dropped by a removal are released after the lock
// is let go (the last one may free a file).
#include "fs/vfs/notify.h"

#include <new>

namespace capsule::vfs {

std::atomic<uint32_t> g_notify_watches{0};
std::atomic<uint32_t> NotifyGroup::max_watches{65536};

namespace {

FsMutex g_lock;
IntrusiveList<Watch, &Watch::in_all> g_all GUARDED_BY(g_lock);
std::atomic<uint32_t> g_cookie{0};

// Removed watches, freed (and their vnodes released) once the lock is let go.
struct Doomed {
  Watch* head = nullptr;
  ~Doomed() {
    while (Watch* w = head) {
      head = w->vnode_next;
      w->vnode->release();
      delete w;
    }
  }
};

}  // namespace

// The parts that touch Vnode's and NotifyGroup's private fields.
struct NotifyCore {
  static uint32_t mask_of(Vnode& v) REQUIRES(g_lock) {
    uint32_t m = 0;
    for (Watch* w = v.watches_; w; w = w->vnode_next) m |= w->mask;
    return m;
  }

  static Watch* find(Vnode& v, NotifyGroup* g) REQUIRES(g_lock) {
    for (Watch* w = v.watches_; w; w = w->vnode_next)
      if (w->group == g) return w;
    return nullptr;
  }

  // Takes `w` off every list; queues IGNORED first if asked.
  static void remove(Watch* w, bool ignored, Doomed& d) REQUIRES(g_lock) {
    if (ignored) w->group->queue(w->wd, NOTE_IGNORED, 0, {});
    Vnode& v = *w->vnode;
    for (Watch** pp = &v.watches_; *pp; pp = &(*pp)->vnode_next) {
      if (*pp == w) {
        *pp = w->vnode_next;
        break;
      }
    }
    v.watch_mask_.store(mask_of(v), std::memory_order_relaxed);
    w->group->watches_.remove(*w);
    g_all.remove(*w);
    g_notify_watches.fetch_sub(1, std::memory_order_relaxed);
    w->vnode_next = d.head;
    d.head = w;
  }

  // `ev` to every watch of `v` that wants it. `unlinked`: the event comes
  // through a file that has no name left (EXCL_UNLINK watches skip it).
  static void deliver(Vnode& v, uint32_t ev, uint32_t cookie, StringView name, bool unlinked, Doomed& d)
      REQUIRES(g_lock) {
    for (Watch *w = v.watches_, *next; w; w = next) {
      next = w->vnode_next;
      if (!(w->mask & ev & NOTE_EVENTS) && !(ev & NOTE_UNMOUNT)) continue;
      if (unlinked && (w->mask & NOTE_EXCL_UNLINK)) continue;
      w->group->queue(w->wd, ev, cookie, name);
      // inotify(7): IN_ONESHOT removes the watch after one event.
      if (w->mask & NOTE_ONESHOT) remove(w, true, d);
    }
  }

  // The file is gone: DELETE_SELF, then every watch on it goes (IGNORED).
  static void delete_self(Vnode& v, Doomed& d) REQUIRES(g_lock) {
    v.note_doomed_ = false;
    deliver(v, NOTE_DELETE_SELF, 0, {}, false, d);
    while (Watch* w = v.watches_) remove(w, true, d);
  }

  static void send(Watch* w, uint32_t ev) REQUIRES(g_lock) { w->group->queue(w->wd, ev, 0, {}); }

  static size_t watch_count(Vnode& v) REQUIRES(g_lock) {
    size_t n = 0;
    for (Watch* w = v.watches_; w; w = w->vnode_next) ++n;
    return n;
  }

  static bool doomed(Vnode& v) REQUIRES(g_lock) { return v.note_doomed_; }
  static void set_doomed(Vnode& v) REQUIRES(g_lock) { v.note_doomed_ = true; }
  static uint32_t mask(Vnode& v) { return v.watch_mask_.load(std::memory_order_relaxed); }

  static Result<int> add(NotifyGroup& g, Vnode& v, uint32_t mask, bool add, bool create_only) {
    auto* fresh = new (std::nothrow) Watch;
    if (!fresh) return Error::NoMemory;
    FsGuard l(g_lock);
    if (Watch* w = find(v, &g)) {
      delete fresh;
      if (create_only) return Error::Exists;
      w->mask = add ? (w->mask | mask) : mask;
      v.watch_mask_.store(mask_of(v), std::memory_order_relaxed);
      return w->wd;
    }
    if (g_notify_watches.load(std::memory_order_relaxed) >= NotifyGroup::max_watches.load(std::memory_order_relaxed)) {
      delete fresh;
      return Error::NoSpace;
    }
    v.retain();
    fresh->group = &g;
    fresh->vnode = &v;
    fresh->wd = g.next_wd_++;
    fresh->mask = mask;
    fresh->vnode_next = v.watches_;
    v.watches_ = fresh;
    v.watch_mask_.store(mask_of(v), std::memory_order_relaxed);
    g.watches_.push_back(*fresh);
    g_all.push_back(*fresh);
    g_notify_watches.fetch_add(1, std::memory_order_relaxed);
    return fresh->wd;
  }

  static Result<void> remove_wd(NotifyGroup& g, int wd) {
    Doomed d;
    FsGuard l(g_lock);
    for (Watch& w : g.watches_) {
      if (w.wd == wd) {
        remove(&w, true, d);
        return {};
      }
    }
    return Error::Invalid;
  }

  static void drop_all(NotifyGroup& g) {
    Doomed d;
    FsGuard l(g_lock);
    while (Watch* w = g.watches_.front()) remove(w, false, d);
  }
};

void NotePath::set(VnodeRef d, StringView n) {
  dir = static_cast<VnodeRef&&>(d);
  len = uint16_t(n.size() > MAX_NAME ? MAX_NAME : n.size());
  for (size_t i = 0; i < len; ++i) name[i] = n[i];
  name[len] = 0;
}

Result<int> NotifyGroup::add_watch(Vnode& v, uint32_t mask, bool add, bool create_only) {
  return NotifyCore::add(*this, v, mask & NOTE_WATCH_BITS, add, create_only);
}

Result<void> NotifyGroup::remove_watch(int wd) { return NotifyCore::remove_wd(*this, wd); }

void NotifyGroup::drop_watches() { NotifyCore::drop_all(*this); }

NotifyGroup::~NotifyGroup() = default;

namespace {

// Linux reports IN_ISDIR with every event about a directory except these.
uint32_t with_isdir(uint32_t ev, bool is_dir) {
  if (!is_dir || (ev & (NOTE_DELETE_SELF | NOTE_MOVE_SELF | NOTE_IGNORED))) return ev;
  return ev | NOTE_ISDIR;
}

bool unlinked(Vnode& v) {
  Result<Attr> a = v.getattr();
  return a.ok() && a.value().nlink == 0;
}

}  // namespace

void notify_event(Vnode& v, const NotePath* where, uint32_t ev, bool through_file) {
  Vnode* dir = where ? where->dir.get() : nullptr;
  bool own = NotifyCore::mask(v) & ev;
  bool parent = dir && (NotifyCore::mask(*dir) & ev);
  if (!own && !parent) return;
  // EXCL_UNLINK asks for nothing through a file without a name (Linux
  // tests the path's dentry; a file with no link left is the common case).
  bool gone = through_file && (((own ? NotifyCore::mask(v) : 0) | (parent ? NotifyCore::mask(*dir) : 0)) &
                               NOTE_EXCL_UNLINK) && unlinked(v);
  ev = with_isdir(ev, v.is_dir());
  Doomed d;
  FsGuard l(g_lock);
  // The parent's watch first, then the file's own (Linux's order).
  if (parent) NotifyCore::deliver(*dir, ev, 0, where->view(), gone, d);
  if (own) NotifyCore::deliver(v, ev, 0, {}, gone, d);
}

void notify_name(Vnode& dir, StringView name, bool is_dir, uint32_t ev) {
  if (!(NotifyCore::mask(dir) & ev)) return;
  Doomed d;
  FsGuard l(g_lock);
  NotifyCore::deliver(dir, with_isdir(ev, is_dir), 0, name, false, d);
}

void notify_rename(Vnode& from, StringView from_name, Vnode& to, StringView to_name, Vnode& moved,
                   Vnode* replaced) {
  if (!((NotifyCore::mask(from) | NotifyCore::mask(to)) & (NOTE_MOVED_FROM | NOTE_MOVED_TO)) &&
      !(NotifyCore::mask(moved) & NOTE_MOVE_SELF) && !(replaced && NotifyCore::mask(*replaced)))
    return;
  uint32_t cookie = g_cookie.fetch_add(1, std::memory_order_relaxed) + 1;
  if (cookie == 0) cookie = g_cookie.fetch_add(1, std::memory_order_relaxed) + 1;
  Doomed d;
  FsGuard l(g_lock);
  NotifyCore::deliver(from, with_isdir(NOTE_MOVED_FROM, moved.is_dir()), cookie, from_name, false, d);
  NotifyCore::deliver(to, with_isdir(NOTE_MOVED_TO, moved.is_dir()), cookie, to_name, false, d);
  // rename(2) over a file: its link count changed (the DELETE_SELF, if
  // it was the last name, comes from the caller's notify_unlinked).
  if (replaced && !replaced->is_dir()) NotifyCore::deliver(*replaced, NOTE_ATTRIB, 0, {}, false, d);
  NotifyCore::deliver(moved, NOTE_MOVE_SELF, 0, {}, false, d);
}

void notify_unlinked(Vnode& v, bool attrib, uint32_t extra_refs) {
  if (!NotifyCore::mask(v)) return;
  // A removed directory is gone whatever its file system reports.
  bool gone = v.is_dir() || unlinked(v);
  Doomed d;
  FsGuard l(g_lock);
  if (attrib) NotifyCore::deliver(v, NOTE_ATTRIB, 0, {}, false, d);
  if (!gone || NotifyCore::watch_count(v) == 0) return;
  // Linux sends DELETE_SELF when the inode is finally let go: at once if
  // nothing else has it open, else at the last close.
  if (v.ref_count() <= NotifyCore::watch_count(v) + extra_refs) NotifyCore::delete_self(v, d);
  else NotifyCore::set_doomed(v);
}

void notify_closed(Vnode& v, const NotePath* where, bool wrote) {
  notify_event(v, where, wrote ? NOTE_CLOSE_WRITE : NOTE_CLOSE_NOWRITE, true);
  if (!NotifyCore::mask(v)) return;
  Doomed d;
  FsGuard l(g_lock);
  // The closing file still holds its reference.
  if (NotifyCore::doomed(v) && v.ref_count() <= NotifyCore::watch_count(v) + 1) NotifyCore::delete_self(v, d);
}

void notify_unmount(FileSystem& fs) {
  if (!notify_active()) return;
  Doomed d;
  FsGuard l(g_lock);
  for (auto it = g_all.begin(); it != g_all.end();) {
    Watch* w = &*it;
    ++it;  // only w is removed below
    if (w->vnode->fs() != &fs) continue;
    NotifyCore::send(w, with_isdir(NOTE_UNMOUNT, w->vnode->is_dir()));
    NotifyCore::remove(w, true, d);
  }
}

uint32_t notify_setattr_events(const SetAttr& a) {
  // Linux's fsnotify_change(): owner and mode changes are ATTRIB, a size
  // change MODIFY; both times ATTRIB (utimes), atime alone ACCESS, mtime
  // alone MODIFY.
  uint32_t ev = 0;
  if (a.mask & (SetAttr::UID | SetAttr::GID | SetAttr::MODE)) ev |= NOTE_ATTRIB;
  if (a.mask & SetAttr::SIZE) ev |= NOTE_MODIFY;
  bool at = a.mask & (SetAttr::ATIME | SetAttr::ATIME_NOW);
  bool mt = a.mask & (SetAttr::MTIME | SetAttr::MTIME_NOW);
  if (at && mt) ev |= NOTE_ATTRIB;
  else if (at) ev |= NOTE_ACCESS;
  else if (mt) ev |= NOTE_MODIFY;
  return ev;
}

}  // namespace capsule::vfs
