// Discretionary access control (fs/vfs/permission.h, docs/vfs.md
// "Permissions"): the mode's triplets, the capabilities that override them,
// the sticky bit, and the rules of the attribute changes.
#include "fs/vfs/permission.h"

#include "fs/vfs.h"

namespace capsule::vfs {

Result<void> may_access(const Cred* c, const Attr& a, int mask) {
  if (!c) return {};
  mask &= MAY_READ | MAY_WRITE | MAY_EXEC;
  // The first class the caller is in decides, even if a later one would
  // grant more (an owner with mode 0077 is refused).
  uint32_t bits;
  if (c->uid == a.uid) bits = (a.mode >> 6) & 7;
  else if (c->in_group(a.gid)) bits = (a.mode >> 3) & 7;
  else bits = a.mode & 7;
  if ((uint32_t(mask) & ~bits) == 0) return {};
  if (type_of_mode(a.mode) == VType::Dir) {
    // Directories: CAP_DAC_READ_SEARCH reads and searches, CAP_DAC_OVERRIDE
    // does everything.
    if (!(mask & MAY_WRITE) && c->dac_read_search) return {};
    if (c->dac_override) return {};
    return Error::AccessDenied;
  }
  // Files: CAP_DAC_OVERRIDE executes only what has an x bit somewhere.
  if (c->dac_override && (!(mask & MAY_EXEC) || (a.mode & 0111))) return {};
  if (mask == MAY_READ && c->dac_read_search) return {};
  return Error::AccessDenied;
}

Result<void> may_access(const Cred* c, Vnode& v, int mask) {
  if (!c) return {};
  Attr a = TRY(v.getattr());
  return may_access(c, a, mask);
}

Result<void> may_search(const Cred* c, Vnode& dir) {
  if (!c || c->dac_read_search || c->dac_override) return {};
  return may_access(c, dir, MAY_EXEC);
}

Result<void> may_create(const Cred* c, Vnode& dir) {
  if (!c || c->dac_override) return {};
  return may_access(c, dir, MAY_WRITE | MAY_EXEC);
}

bool owner_or_capable(const Cred* c, const Attr& a) { return !c || c->uid == a.uid || c->fowner; }

Result<void> may_delete(const Cred* c, Vnode& dir, Vnode& victim) {
  if (!c) return {};
  Attr d = TRY(dir.getattr());
  TRY(may_access(c, d, MAY_WRITE | MAY_EXEC));
  if (!(d.mode & MODE_STICKY) || c->uid == d.uid || c->fowner) return {};
  Attr v = TRY(victim.getattr());
  if (c->uid == v.uid) return {};
  return Error::Permission;
}

Result<void> may_link(const Cred* c, Vnode& src) {
  if (!c || c->fowner) return {};
  Attr a = TRY(src.getattr());
  if (c->uid == a.uid) return {};
  const bool unsafe = type_of_mode(a.mode) != VType::Regular || (a.mode & MODE_SETUID) ||
                      (a.mode & (MODE_SETGID | 010)) == (MODE_SETGID | 010);
  if (unsafe || !may_access(c, a, MAY_READ | MAY_WRITE).ok()) return Error::Permission;
  return {};
}

Result<void> may_mknod(const Cred* c, uint32_t mode) {
  VType t = type_of_mode(mode);
  if ((t == VType::Char || t == VType::Block) && c && !c->mknod) return Error::Permission;
  return {};
}

namespace {

// The set-group-ID bit a change or a write by `c` must clear: when the
// file is group-executable, or its group `gid` is not the caller's and it
// lacks CAP_FSETID (Linux's setattr_should_drop_sgid).
bool drop_sgid(const Cred* c, uint32_t mode, uint32_t gid) {
  if (!(mode & MODE_SETGID)) return false;
  if (mode & 010) return true;
  return c && !c->in_group(gid) && !c->fsetid;
}

// The bits a write or truncation clears (setuid always, setgid per
// drop_sgid), for a caller without CAP_FSETID, on a regular file.
uint32_t privs_to_clear(const Cred* c, const Attr& a) {
  if (!c || c->fsetid || type_of_mode(a.mode) != VType::Regular) return 0;
  uint32_t kill = a.mode & MODE_SETUID;
  if (drop_sgid(c, a.mode, a.gid)) kill |= MODE_SETGID;
  return kill;
}

}  // namespace

Result<void> remove_privs(const Cred* c, Vnode& v) {
  if (!c || c->fsetid || !v.is_regular()) return {};
  Attr a = TRY(v.getattr());
  uint32_t kill = privs_to_clear(c, a);
  if (!kill) return {};
  SetAttr s;
  s.mask = SetAttr::MODE;
  s.mode = (a.mode & MODE_PERM) & ~kill;
  return v.setattr(s);
}

Result<void> setattr_checked(const Cred* c, Vnode& v, const SetAttr& in) {
  SetAttr s = in;
  Attr a = TRY(v.getattr());
  const bool chown = s.mask & (SetAttr::UID | SetAttr::GID);
  if (c) {
    // chown(2): only CAP_CHOWN gives a file away; its owner may "change"
    // the owner to itself and the group to one of its groups.
    if ((s.mask & SetAttr::UID) && !(c->uid == a.uid && s.uid == a.uid) && !c->chown) return Error::Permission;
    if ((s.mask & SetAttr::GID) && !(c->uid == a.uid && (s.gid == a.gid || c->in_group(s.gid))) && !c->chown)
      return Error::Permission;
    if (s.mask & SetAttr::MODE) {
      // chmod(2): the owner or CAP_FOWNER; set-group-ID survives only in
      // one of the caller's groups, or with CAP_FSETID.
      if (!owner_or_capable(c, a)) return Error::Permission;
      uint32_t gid = (s.mask & SetAttr::GID) ? s.gid : a.gid;
      if ((s.mode & MODE_SETGID) && !c->in_group(gid) && !c->fsetid) s.mode &= ~MODE_SETGID;
    }
    // utimensat(2): explicit times (or one of them "now", the other
    // omitted) need the owner or CAP_FOWNER; "both now" needs only write
    // permission.
    const uint32_t times = SetAttr::ATIME | SetAttr::MTIME | SetAttr::ATIME_NOW | SetAttr::MTIME_NOW;
    const uint32_t touch = SetAttr::ATIME_NOW | SetAttr::MTIME_NOW;
    if (s.mask & times) {
      if ((s.mask & times) == touch) {
        if (!owner_or_capable(c, a)) TRY(may_access(c, a, MAY_WRITE));
      } else if (!owner_or_capable(c, a)) {
        return Error::Permission;
      }
    }
  }
  // chown of a non-directory clears set-user-ID and (drop_sgid)
  // set-group-ID, for root too; a truncation clears them as a write does.
  uint32_t kill = 0;
  if (chown && type_of_mode(a.mode) != VType::Dir && type_of_mode(a.mode) != VType::Symlink) {
    kill = a.mode & MODE_SETUID;
    if (drop_sgid(c, a.mode, a.gid)) kill |= MODE_SETGID;
  }
  if (s.mask & SetAttr::SIZE) kill |= privs_to_clear(c, a);
  if (kill) {
    uint32_t base = (s.mask & SetAttr::MODE) ? s.mode : (a.mode & MODE_PERM);
    if (base & kill) {
      s.mask |= SetAttr::MODE;
      s.mode = base & ~kill;
    }
  }
  return v.setattr(s);
}

void init_owner(const Cred* c, uint32_t dir_mode, uint32_t dir_gid, uint32_t& mode, uint32_t& gid) {
  if (!(dir_mode & MODE_SETGID)) return;
  gid = dir_gid;
  if (type_of_mode(mode) == VType::Dir) {
    mode |= MODE_SETGID;
    return;
  }
  if ((mode & (MODE_SETGID | 010)) == (MODE_SETGID | 010) && c && !c->in_group(dir_gid) && !c->fsetid)
    mode &= ~MODE_SETGID;
}

}  // namespace capsule::vfs
