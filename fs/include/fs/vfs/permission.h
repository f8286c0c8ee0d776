#pragma once
// Discretionary access control (docs/vfs.md "Permissions"): who may do what
// to a file, decided in one place for every file system. The Vfs asks these
// on its path walks and path operations; linux/ asks them for the calls
// that start from a descriptor (fchmod, fchown, futimens, write).
//
// A Cred is the caller's identity as the file checks see it: the file
// system user and group ids, a way to ask about supplementary groups, and
// the capabilities that override the checks, as booleans. linux/ fills one
// from the process's credentials for each call. A null Cred is the kernel
// itself (boot, procfs's own walks): nothing is checked.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::vfs {

struct Attr;
struct SetAttr;
class Vnode;

struct Cred {
  uint32_t uid = 0, gid = 0;  // the file system ids (Linux's fsuid, fsgid)
  // The capabilities the checks honour (capabilities(7)).
  bool dac_override = false;     // read, write and search anything; execute what has an x bit
  bool dac_read_search = false;  // read any file, read and search any directory
  bool fowner = false;           // act as any file's owner (chmod, utimes, sticky directories)
  bool fsetid = false;           // keep set-user/group-ID bits on write, chmod and chown
  bool chown = false;            // change any file's owner and group
  bool mknod = false;            // make device nodes
  // Supplementary groups: in_groups(owner, gid) says whether gid is one of
  // them (nullptr: there are none). Asked, not copied: the owner (a
  // process) outlives every call that carries its Cred.
  bool (*in_groups)(const void* owner, uint32_t gid) = nullptr;
  const void* owner = nullptr;

  bool in_group(uint32_t g) const { return g == gid || (in_groups && in_groups(owner, g)); }
};

// The access a check asks for (the bit values of access(2)'s X_OK, W_OK,
// R_OK and of the mode's rwx triplets).
constexpr int MAY_EXEC = 1;
constexpr int MAY_WRITE = 2;
constexpr int MAY_READ = 4;

constexpr uint32_t MODE_SETUID = 04000;
constexpr uint32_t MODE_SETGID = 02000;
constexpr uint32_t MODE_STICKY = 01000;

// The owner, group or other triplet of the file's mode (the first class
// the caller belongs to decides), then the capabilities: AccessDenied
// (EACCES) when neither grants `mask`.
Result<void> may_access(const Cred* c, const Attr& a, int mask);
Result<void> may_access(const Cred* c, Vnode& v, int mask);
// Search permission on a walk's directory (no getattr when a capability
// grants it anyway).
Result<void> may_search(const Cred* c, Vnode& dir);
// A new name in `dir` (write and search on it).
Result<void> may_create(const Cred* c, Vnode& dir);
// Removing `victim` from `dir` (unlink, rmdir, rename's source and the
// name it replaces): write and search on dir, then the sticky bit: in a
// sticky directory only the file's owner, the directory's owner or
// CAP_FOWNER (Permission, EPERM).
Result<void> may_delete(const Cred* c, Vnode& dir, Vnode& victim);
// The caller owns the file, or has CAP_FOWNER.
bool owner_or_capable(const Cred* c, const Attr& a);
// A hard link to `src` (Linux's fs.protected_hardlinks = 1, Debian's
// setting): its owner, CAP_FOWNER, or a regular file without set-user-ID
// (or executable set-group-ID) that the caller may read and write;
// Permission (EPERM) otherwise.
Result<void> may_link(const Cred* c, Vnode& src);
// mknod of a device node needs CAP_MKNOD (Permission).
Result<void> may_mknod(const Cred* c, uint32_t mode);
// setattr with the checks of chown(2), chmod(2), utimensat(2) and
// truncate(2) (EPERM/EACCES as Linux), and the set-user/group-ID bits each
// change clears; then the vnode's setattr. Truncation's write permission
// is the caller's (a path: Vfs::setattr; a descriptor: opened for writing).
Result<void> setattr_checked(const Cred* c, Vnode& v, const SetAttr& s);
// After a write or truncation by a caller without CAP_FSETID: a regular
// file loses set-user-ID, and set-group-ID if group-executable or not of
// the caller's groups (Linux's file_remove_privs). No-op when nothing is set.
Result<void> remove_privs(const Cred* c, Vnode& v);
// A new file's group and mode in a directory of mode/gid dir_mode/dir_gid:
// a set-group-ID directory gives its group (and, to a new directory, its
// set-group-ID bit); a file made set-group-ID in a group not the caller's
// loses the bit unless CAP_FSETID (Linux's inode_init_owner).
void init_owner(const Cred* c, uint32_t dir_mode, uint32_t dir_gid, uint32_t& mode, uint32_t& gid);

}  // namespace capsule::vfs
