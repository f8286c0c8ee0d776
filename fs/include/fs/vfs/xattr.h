#pragma once
// Extended attributes (docs/vfs.md "Extended attributes"): the rules every
// file system shares, and XattrStore, the name -> value list a file system
// that keeps attributes in memory embeds in its nodes (ramfs).
//
// Names are whole ("user.mime_type"). What Linux knows and Capsule keeps:
//   user.*      regular files and directories only (EPERM to set on other
//               types, ENODATA to get)
//   trusted.*   privileged processes only (EPERM; hidden from listxattr)
//   security.*  anyone (no security module checks them)
//   system.posix_acl_access / system.posix_acl_default   POSIX ACLs in
//               their xattr form (posix_acl_check below)
// Any other prefix is OpNotSupported (EOPNOTSUPP), as on Linux.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::vfs {

enum class VType : uint8_t;

// Linux's limits (its XATTR_NAME_MAX, XATTR_SIZE_MAX, XATTR_LIST_MAX: own
// names, those are macros on the host).
constexpr size_t MAX_XATTR_NAME = 255;
constexpr size_t MAX_XATTR_SIZE = 65536;
constexpr size_t MAX_XATTR_LIST = 65536;

// setxattr(2)'s flags: Create fails with Exists if the name is there,
// Replace with NoData if it is not.
enum class XattrSet : uint8_t { Any, Create, Replace };

enum class XattrNs : uint8_t { User, Trusted, Security, AclAccess, AclDefault };

constexpr StringView ACL_ACCESS = "system.posix_acl_access";
constexpr StringView ACL_DEFAULT = "system.posix_acl_default";

// The namespace of `name`: OpNotSupported for an unknown prefix (and for a
// system.* name other than the two ACLs), Invalid for a prefix with nothing
// after it ("user.").
Result<XattrNs> xattr_namespace(StringView name);

// The checks Linux makes before asking the file system (its
// xattr_permission()): `write` for set and remove. Returns the namespace.
// user.* on a file that is neither regular nor a directory: Permission to
// write, NoData to read; trusted.* without privilege: Permission.
Result<XattrNs> xattr_check(StringView name, VType type, bool write, bool privileged);

// A POSIX ACL in its xattr form: a little-endian version word (2), then
// 8-byte entries {u16 tag, u16 perm, u32 id} in the order USER_OBJ,
// USER..., GROUP_OBJ, GROUP..., MASK, OTHER (MASK required when there are
// USER or GROUP entries).
struct AclInfo {
  uint32_t mode = 0;        // the permission bits it implies (rwxrwxrwx)
  bool equivalent = false;  // no more than those bits: no ACL need be kept
  bool empty = false;       // no entries: set means remove
};
// Checks `value` and writes its normalized form (ids of the entries that
// have no qualifier set to -1, as Linux returns them) to `out` (size
// bytes). OpNotSupported for another version, Invalid for anything else
// malformed.
Result<AclInfo> posix_acl_check(const void* value, size_t size, void* out);
// chmod's effect on a kept access ACL (Linux's posix_acl_chmod): the
// owner, mask (or group) and other entries take the new mode's bits.
void posix_acl_chmod(void* acl, size_t size, uint32_t mode);

// One file's attributes, in the order they were first set (tmpfs's order).
// No lock of its own: the owner serializes calls (ramfs: the node lock).
// Bounded: names and values together take at most MAX_BYTES (NoSpace).
class XattrStore {
 public:
  static constexpr size_t MAX_BYTES = 256 * 1024;

  XattrStore() = default;
  ~XattrStore();
  XattrStore(const XattrStore&) = delete;
  XattrStore& operator=(const XattrStore&) = delete;

  // The value's size; copied to buf unless cap is 0. NoData when absent,
  // Range when cap (not 0) is smaller than the value.
  Result<size_t> get(StringView name, void* buf, size_t cap) const;
  // NoMemory, NoSpace (over MAX_BYTES), Exists/NoData per `how`. A
  // replaced value keeps its place in the order.
  Result<void> set(StringView name, const void* value, size_t size, XattrSet how);
  // NoData when absent.
  Result<void> remove(StringView name);
  // The names, each followed by a NUL: the ACLs first (access, default),
  // then the rest in order; trusted.* only if `trusted`. Returns the bytes
  // needed; copies them unless cap is 0; Range if cap (not 0) is short.
  Result<size_t> list(char* buf, size_t cap, bool trusted) const;
  // The in-place value of `name` (nullptr when absent), for the owner's
  // own updates (posix_acl_chmod).
  void* find_value(StringView name, size_t* size);

  size_t bytes() const { return bytes_; }
  size_t count() const;

 private:
  struct Entry;
  Entry* find(StringView name, Entry*** link) const;
  Entry* head_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace capsule::vfs
