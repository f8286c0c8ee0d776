// Extended attributes: the namespace rules, POSIX ACL checking and the
// in-memory store (fs/include/fs/vfs/xattr.h, docs/vfs.md).
#include "fs/vfs/xattr.h"

#include <cstring>
#include <new>

#include "fs/vfs.h"

namespace capsule::vfs {

Result<XattrNs> xattr_namespace(StringView name) {
  struct Prefix {
    StringView text;
    XattrNs ns;
  };
  static constexpr Prefix PREFIXES[] = {
      {"user.", XattrNs::User}, {"trusted.", XattrNs::Trusted}, {"security.", XattrNs::Security}};
  for (const Prefix& p : PREFIXES) {
    if (name.starts_with(p.text)) {
      if (name.size() == p.text.size()) return Error::Invalid;
      return p.ns;
    }
  }
  if (name == ACL_ACCESS) return XattrNs::AclAccess;
  if (name == ACL_DEFAULT) return XattrNs::AclDefault;
  return Error::OpNotSupported;
}

Result<XattrNs> xattr_check(StringView name, VType type, bool write, bool privileged) {
  // Linux asks about user.* and trusted.* before it looks for a handler,
  // so "user." on a symlink is EPERM, not EINVAL.
  if (name.starts_with("user.") && type != VType::Regular && type != VType::Dir)
    return write ? Error::Permission : Error::NoData;
  if (name.starts_with("trusted.") && !privileged) return Error::Permission;
  return xattr_namespace(name);
}

namespace {

constexpr uint32_t ACL_VERSION = 2;
constexpr uint16_t TAG_USER_OBJ = 0x01, TAG_USER = 0x02, TAG_GROUP_OBJ = 0x04, TAG_GROUP = 0x08, TAG_MASK = 0x10,
                   TAG_OTHER = 0x20;

struct AclEntry {
  uint16_t tag, perm;
  uint32_t id;
};
static_assert(sizeof(AclEntry) == 8);

// The position each tag may take: entries come in this order.
int rank(uint16_t tag) {
  switch (tag) {
    case TAG_USER_OBJ: return 0;
    case TAG_USER: return 1;
    case TAG_GROUP_OBJ: return 2;
    case TAG_GROUP: return 3;
    case TAG_MASK: return 4;
    case TAG_OTHER: return 5;
    default: return -1;
  }
}

}  // namespace

Result<AclInfo> posix_acl_check(const void* value, size_t size, void* out) {
  AclInfo info;
  if (size == 0) {
    info.empty = true;
    return info;
  }
  if (size < 4) return Error::Invalid;
  uint32_t version;
  std::memcpy(&version, value, 4);
  if (version != ACL_VERSION) return Error::OpNotSupported;
  if ((size - 4) % sizeof(AclEntry)) return Error::Invalid;
  size_t n = (size - 4) / sizeof(AclEntry);
  std::memcpy(out, value, size);
  if (n == 0) {
    info.empty = true;
    return info;
  }
  auto* e = static_cast<uint8_t*>(out) + 4;
  int last = -1;
  int count[6] = {};
  uint32_t last_id = 0;
  uint32_t mask = 0, group = 0;
  for (size_t i = 0; i < n; ++i) {
    AclEntry a;
    std::memcpy(&a, e + i * sizeof a, sizeof a);
    int r = rank(a.tag);
    if (r < 0 || r < last || (a.perm & ~7u)) return Error::Invalid;
    bool qualified = a.tag == TAG_USER || a.tag == TAG_GROUP;
    if (!qualified && r == last) return Error::Invalid;  // one of each
    if (qualified && r == last && a.id <= last_id) return Error::Invalid;  // ids ascending, no repeats
    last = r;
    last_id = a.id;
    ++count[r];
    if (!qualified) a.id = ~0u;
    switch (a.tag) {
      case TAG_USER_OBJ: info.mode |= uint32_t(a.perm) << 6; break;
      case TAG_GROUP_OBJ: group = a.perm; break;
      case TAG_MASK: mask = a.perm; break;
      case TAG_OTHER: info.mode |= a.perm; break;
      default: break;
    }
    std::memcpy(e + i * sizeof a, &a, sizeof a);
  }
  if (!count[0] || !count[2] || !count[5]) return Error::Invalid;
  if ((count[1] || count[3]) && !count[4]) return Error::Invalid;
  info.mode |= (count[4] ? mask : group) << 3;
  info.equivalent = !count[1] && !count[3] && !count[4];
  return info;
}

void posix_acl_chmod(void* acl, size_t size, uint32_t mode) {
  if (size < 4) return;
  size_t n = (size - 4) / sizeof(AclEntry);
  // The value may sit at any alignment: entries are copied in and out.
  auto* p = static_cast<uint8_t*>(acl) + 4;
  auto entry = [p](size_t i) {
    AclEntry a;
    std::memcpy(&a, p + i * sizeof a, sizeof a);
    return a;
  };
  bool has_mask = false;
  for (size_t i = 0; i < n; ++i) has_mask |= entry(i).tag == TAG_MASK;
  for (size_t i = 0; i < n; ++i) {
    AclEntry a = entry(i);
    switch (a.tag) {
      case TAG_USER_OBJ: a.perm = uint16_t((mode >> 6) & 7); break;
      case TAG_MASK: a.perm = uint16_t((mode >> 3) & 7); break;
      case TAG_GROUP_OBJ:
        if (!has_mask) a.perm = uint16_t((mode >> 3) & 7);
        break;
      case TAG_OTHER: a.perm = uint16_t(mode & 7); break;
      default: break;
    }
    std::memcpy(p + i * sizeof a, &a, sizeof a);
  }
}

// --- XattrStore ------------------------------------------------------------

struct XattrStore::Entry {
  Entry* next;
  uint32_t name_len;
  uint32_t size;
  char data[];  // the name, then the value

  StringView name() const { return {data, name_len}; }
  const void* value() const { return data + name_len; }
  void* value() { return data + name_len; }
  size_t cost() const { return name_len + size; }

  static Entry* make(StringView name, const void* value, size_t size) {
    void* mem = ::operator new(sizeof(Entry) + name.size() + size, std::nothrow);
    if (!mem) return nullptr;
    auto* e = new (mem) Entry;
    e->next = nullptr;
    e->name_len = uint32_t(name.size());
    e->size = uint32_t(size);
    std::memcpy(e->data, name.data(), name.size());
    if (size) std::memcpy(e->data + name.size(), value, size);
    return e;
  }
  static void destroy(Entry* e) {
    e->~Entry();
    ::operator delete(e);
  }
};

XattrStore::~XattrStore() {
  while (head_) {
    Entry* e = head_;
    head_ = e->next;
    Entry::destroy(e);
  }
}

XattrStore::Entry* XattrStore::find(StringView name, Entry*** link) const {
  Entry** p = const_cast<Entry**>(&head_);
  for (; *p; p = &(*p)->next) {
    if ((*p)->name() == name) break;
  }
  if (link) *link = p;
  return *p;
}

Result<size_t> XattrStore::get(StringView name, void* buf, size_t cap) const {
  const Entry* e = find(name, nullptr);
  if (!e) return Error::NoData;
  if (cap == 0) return size_t(e->size);
  if (cap < e->size) return Error::Range;
  if (e->size) std::memcpy(buf, e->value(), e->size);
  return size_t(e->size);
}

Result<void> XattrStore::set(StringView name, const void* value, size_t size, XattrSet how) {
  if (name.empty() || name.size() > MAX_XATTR_NAME || size > MAX_XATTR_SIZE) return Error::Invalid;
  Entry** link;
  Entry* old = find(name, &link);
  if (old && how == XattrSet::Create) return Error::Exists;
  if (!old && how == XattrSet::Replace) return Error::NoData;
  size_t after = bytes_ - (old ? old->cost() : 0) + name.size() + size;
  if (after > MAX_BYTES) return Error::NoSpace;
  Entry* e = Entry::make(name, value, size);
  if (!e) return Error::NoMemory;
  if (old) {
    e->next = old->next;
    Entry::destroy(old);
  }
  *link = e;
  bytes_ = after;
  return {};
}

Result<void> XattrStore::remove(StringView name) {
  Entry** link;
  Entry* e = find(name, &link);
  if (!e) return Error::NoData;
  *link = e->next;
  bytes_ -= e->cost();
  Entry::destroy(e);
  return {};
}

void* XattrStore::find_value(StringView name, size_t* size) {
  Entry* e = find(name, nullptr);
  if (!e) return nullptr;
  *size = e->size;
  return e->value();
}

size_t XattrStore::count() const {
  size_t n = 0;
  for (Entry* e = head_; e; e = e->next) ++n;
  return n;
}

Result<size_t> XattrStore::list(char* buf, size_t cap, bool trusted) const {
  size_t need = 0;
  bool fits = true;
  auto emit = [&](StringView name) {
    size_t n = name.size() + 1;
    if (cap) {
      if (need + n > cap) {
        fits = false;
      } else {
        std::memcpy(buf + need, name.data(), name.size());
        buf[need + name.size()] = '\0';
      }
    }
    need += n;
  };
  // Linux keeps the ACLs apart from the other attributes and lists them
  // first.
  for (StringView acl : {ACL_ACCESS, ACL_DEFAULT}) {
    if (find(acl, nullptr)) emit(acl);
  }
  for (const Entry* e = head_; e; e = e->next) {
    StringView n = e->name();
    if (n == ACL_ACCESS || n == ACL_DEFAULT) continue;
    if (!trusted && n.starts_with("trusted.")) continue;
    emit(n);
  }
  if (!fits) return Error::Range;
  return need;
}

}  // namespace capsule::vfs
