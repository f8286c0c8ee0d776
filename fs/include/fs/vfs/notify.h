#pragma once
// File change notification (docs/inotify.md): the VFS tells watchers what
// happened to a file as it happens — created, opened, read, written,
// changed attributes, closed, moved, deleted, its file system unmounted.
//
// A NotifyGroup (an inotify instance: linux/sys_inotify.cc) holds watches,
// each on one vnode with a mask of the events it wants; the VFS calls the
// hooks below from its operations (fs/vfs/vfs.cc, fs/vfs/file.cc), so every
// file system gets events for changes made through the VFS. Nothing here
// knows Linux's structures; the event bits have inotify's values (IN_*) so
// that the adapter passes them through unchanged.
//
// Cost when nothing watches: each hook is one relaxed load of a global
// count (notify_active()). When something watches anywhere, a hook tests
// the vnode's and its directory's masks (one load each) and takes the
// notify lock only when one of them wants the event.
//
// Lock order: the notify lock (global, sleeping) → a group's queue lock
// (the group's own) → its Pollable's watch lock. The hooks are called with
// no VFS or file system lock held.
#include <atomic>
#include <cstdint>

#include "fs/vfs.h"
#include "fs/vfs/permission.h"
#include "lib/string_view.h"

namespace capsule::vfs {

// Events (inotify(7)'s IN_* values).
constexpr uint32_t NOTE_ACCESS = 0x1;
constexpr uint32_t NOTE_MODIFY = 0x2;
constexpr uint32_t NOTE_ATTRIB = 0x4;
constexpr uint32_t NOTE_CLOSE_WRITE = 0x8;
constexpr uint32_t NOTE_CLOSE_NOWRITE = 0x10;
constexpr uint32_t NOTE_OPEN = 0x20;
constexpr uint32_t NOTE_MOVED_FROM = 0x40;
constexpr uint32_t NOTE_MOVED_TO = 0x80;
constexpr uint32_t NOTE_CREATE = 0x100;
constexpr uint32_t NOTE_DELETE = 0x200;
constexpr uint32_t NOTE_DELETE_SELF = 0x400;
constexpr uint32_t NOTE_MOVE_SELF = 0x800;
constexpr uint32_t NOTE_EVENTS = 0xfff;  // every event a watch may ask for
// Reported without being asked for.
constexpr uint32_t NOTE_UNMOUNT = 0x2000;
constexpr uint32_t NOTE_OVERFLOW = 0x4000;  // the group's queue (wd -1)
constexpr uint32_t NOTE_IGNORED = 0x8000;   // the watch is gone
constexpr uint32_t NOTE_ISDIR = 0x40000000;  // the subject is a directory
// Watch flags.
constexpr uint32_t NOTE_EXCL_UNLINK = 0x04000000;  // nothing through a file once it has no name
constexpr uint32_t NOTE_ONESHOT = 0x80000000;      // the first event removes the watch
constexpr uint32_t NOTE_WATCH_BITS = NOTE_EVENTS | NOTE_EXCL_UNLINK | NOTE_ONESHOT;

class NotifyGroup;

// One watch: a group's interest in one vnode, which it holds. All fields
// are under the notify lock.
struct Watch {
  NotifyGroup* group = nullptr;
  Vnode* vnode = nullptr;  // holds a reference
  int wd = 0;
  uint32_t mask = 0;  // NOTE_WATCH_BITS
  Watch* vnode_next = nullptr;  // the vnode's watches (Vnode::watches_)
  ListNode in_group;            // the group's, by creation
  ListNode in_all;              // every watch, by creation (unmount)
};

// Where the parent's watches get an event about a file: its directory and
// its name there, as the path that reached it had them.
struct NotePath {
  VnodeRef dir;
  uint16_t len = 0;
  char name[MAX_NAME + 1];
  StringView view() const { return {name, len}; }
  void set(VnodeRef d, StringView n);
};

// An inotify instance's side: its watches, and a queue (the subclass).
class NotifyGroup {
 public:
  NotifyGroup() = default;
  NotifyGroup(const NotifyGroup&) = delete;
  NotifyGroup& operator=(const NotifyGroup&) = delete;

  // inotify_add_watch(2) on a resolved vnode: a new watch, or the existing
  // one's mask replaced (or ORed with `add`). Exists with `create_only`
  // when there is one; NoSpace past the watch limit (max_user_watches).
  // Returns the watch descriptor (1, 2, ... never reused by this group).
  Result<int> add_watch(Vnode& v, uint32_t mask, bool add, bool create_only);
  // inotify_rm_watch(2): queues NOTE_IGNORED; Invalid for an unknown wd.
  Result<void> remove_watch(int wd);
  // The instance closes: its watches go, without events. Call before the
  // subclass's queue goes away.
  void drop_watches();

  // The limits (/proc/sys/fs/inotify/max_user_watches).
  static std::atomic<uint32_t> max_watches;

 protected:
  ~NotifyGroup();
  // Appends one event (name empty for none). Called with the notify lock
  // held: must not sleep long or call back into this file.
  virtual void queue(int wd, uint32_t mask, uint32_t cookie, StringView name) = 0;

 private:
  friend struct NotifyCore;
  IntrusiveList<Watch, &Watch::in_group> watches_;  // under the notify lock
  int next_wd_ = 1;                                 // under the notify lock
};

// Watches anywhere (the hooks' first test).
extern std::atomic<uint32_t> g_notify_watches;
inline bool notify_active() { return g_notify_watches.load(std::memory_order_relaxed) != 0; }

// --- hooks the VFS calls ---
// `v`'s own watches get `ev` (ISDIR added for a directory); with `where`,
// the directory's watches first, with the name. `through_file`: the event
// comes through an open file (EXCL_UNLINK applies).
void notify_event(Vnode& v, const NotePath* where, uint32_t ev, bool through_file = false);
// A name in `dir` came or went (CREATE, DELETE): the directory's watches.
void notify_name(Vnode& dir, StringView name, bool is_dir, uint32_t ev);
// rename(2): MOVED_FROM in `from`, MOVED_TO in `to` with one cookie, then
// ATTRIB on a replaced file and MOVE_SELF on the moved one.
void notify_rename(Vnode& from, StringView from_name, Vnode& to, StringView to_name, Vnode& moved,
                   Vnode* replaced);
// `v` lost a name (unlink, rmdir, replaced by rename): ATTRIB (not for a
// directory), and DELETE_SELF and IGNORED on its watches if it has no name
// left and nothing else holds it (`extra_refs`: the caller's references);
// otherwise when its last open file closes (notify_closed).
void notify_unlinked(Vnode& v, bool attrib, uint32_t extra_refs);
// The last reference to an open file went.
void notify_closed(Vnode& v, const NotePath* where, bool wrote);
// `fs` was unmounted: UNMOUNT and IGNORED on every watch of its files.
void notify_unmount(FileSystem& fs);
// setattr on a vnode found by the caller (linux/'s chmod, chown, utimens
// family, ftruncate), after the permission rules of setattr_checked
// (fs/vfs/permission.h; `cred` null: the kernel), with its events; `where`
// as Vfs::resolve_noted gave it.
Result<void> setattr_noted(const Cred* cred, Vnode& v, const NotePath* where, const SetAttr& a);
// A setattr's events (SetAttr::mask): ATTRIB, MODIFY (size or mtime alone),
// ACCESS (atime alone).
uint32_t notify_setattr_events(const SetAttr& a);

}  // namespace capsule::vfs
