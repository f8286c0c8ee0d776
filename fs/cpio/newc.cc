// cpio newc reader (docs/initrd.md). Format facts from cpio(5) "New ASCII
// Format" and Linux's buffer-format.rst (what an initramfs may contain).
#include "fs/cpio/newc.h"

#include "lib/format.h"

namespace capsule::cpio {
namespace {

constexpr size_t FIELD_COUNT = 13;
// Field order after the 6-byte magic, 8 hex digits each (cpio(5)).
enum Field : size_t {
  F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE,
  F_DEVMAJOR, F_DEVMINOR, F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK,
};

constexpr StringView TRAILER = "TRAILER!!!";

int hex_digit(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Rounds up to the 4-byte boundary newc pads names and data to; false on
// overflow.
// Whether n bytes are all NUL, a word at a time: the padding after a name
// runs up to 4095 bytes per file (a page-aligned archive, docs/initrd.md)
// and the boot reads every one.
bool all_zero(const char* p, size_t n) {
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; ++i) acc |= uint8_t(p[i]);
  return acc == 0;
}

bool align4(size_t v, size_t& out) {
  if (v > size_t(-1) - 3) return false;
  out = (v + 3) & ~size_t(3);
  return true;
}

bool known_type(uint32_t t) {
  switch (t) {
    case TYPE_REGULAR: case TYPE_DIR: case TYPE_SYMLINK: case TYPE_CHAR:
    case TYPE_BLOCK: case TYPE_FIFO: case TYPE_SOCKET:
      return true;
    default:
      return false;
  }
}

// A compressed initrd is a common mistake; say so instead of "bad magic".
const char* compression_name(const uint8_t* p, size_t n) {
  auto is = [&](const char* magic, size_t len) {
    if (n < len) return false;
    for (size_t i = 0; i < len; ++i)
      if (p[i] != uint8_t(magic[i])) return false;
    return true;
  };
  if (is("\x1f\x8b", 2)) return "gzip-compressed archive (unsupported: pack it uncompressed)";
  if (is("\xfd" "7zXZ", 5)) return "xz-compressed archive (unsupported: pack it uncompressed)";
  if (is("\x28\xb5\x2f\xfd", 4)) return "zstd-compressed archive (unsupported: pack it uncompressed)";
  if (is("BZh", 3)) return "bzip2-compressed archive (unsupported: pack it uncompressed)";
  if (is("\x02\x21\x4c\x18", 4)) return "lz4-compressed archive (unsupported: pack it uncompressed)";
  return nullptr;
}

}  // namespace

Error Reader::fail(const char* reason, size_t offset, StringView entry) {
  error_ = {reason, offset, entry};
  return Error::BadFormat;
}

Result<bool> Reader::next(Entry& out) {
  if (error_.reason) return Error::BadFormat;
  if (done_) return false;

  // One pass per header; a trailer loops to the next archive (a loop, not
  // recursion: an input of many empty archives must not exhaust the stack).
  for (;;) {
    if (!in_archive_) {
      // Between archives only NUL padding may appear (Linux's unpacker
      // skips it); a new archive must start on a 4-byte boundary.
      while (pos_ < size_ && data_[pos_] == 0) ++pos_;
      if (pos_ == size_) {
        done_ = true;
        return false;
      }
      if (pos_ & 3) return fail("archive does not start on a 4-byte boundary", pos_);
      if (const char* c = compression_name(data_ + pos_, size_ - pos_)) return fail(c, pos_);
    }

    const size_t start = pos_;
    if (size_ - start < HEADER_SIZE)
      return fail(start == size_ ? "archive ends without TRAILER!!!" : "truncated entry header", start);
    const uint8_t* h = data_ + start;
    bool crc;
    if (__builtin_memcmp(h, "070701", 6) == 0) {
      crc = false;
    } else if (__builtin_memcmp(h, "070702", 6) == 0) {
      crc = true;
    } else {
      return fail("bad magic (not a newc cpio archive)", start);
    }
    uint32_t f[FIELD_COUNT];
    for (size_t i = 0; i < FIELD_COUNT; ++i) {
      uint32_t v = 0;
      for (size_t k = 0; k < 8; ++k) {
        size_t at = 6 + i * 8 + k;
        int d = hex_digit(h[at]);
        if (d < 0) return fail("bad hex digit in header", start + at);
        v = v << 4 | uint32_t(d);
      }
      f[i] = v;
    }
    auto field_at = [&](Field which) { return start + 6 + size_t(which) * 8; };

    const size_t namesize = f[F_NAMESIZE];
    const size_t name_at = start + HEADER_SIZE;
    // namesize counts the NUL; a name of at least one character is needed.
    if (namesize < 2) return fail("name size too small", field_at(F_NAMESIZE));
    if (namesize > MAX_PATH + 1) return fail("name longer than PATH_MAX", field_at(F_NAMESIZE));
    if (size_ - name_at < namesize) return fail("truncated entry name", size_);
    const char* chars = reinterpret_cast<const char*>(data_ + name_at);
    if (chars[namesize - 1] != 0) return fail("entry name not NUL-terminated", name_at + namesize - 1);
    // The name ends at its first NUL; more NULs may follow it inside
    // namesize (the writer's padding that puts file data on a page
    // boundary, docs/initrd.md), anything else after a NUL is refused.
    size_t name_len = 0;
    while (chars[name_len]) ++name_len;
    if (!all_zero(chars + name_len, namesize - name_len))
      return fail("NUL inside entry name", name_at + name_len, StringView(chars, name_len));
    if (name_len == 0) return fail("name size too small", field_at(F_NAMESIZE));
    const StringView name(chars, name_len);

    // Name and data are each padded so the next item starts 4-byte aligned.
    size_t data_at;
    if (!align4(name_at + namesize, data_at) || data_at > size_)
      return fail("truncated name padding", size_, name);
    const size_t filesize = f[F_FILESIZE];
    if (size_ - data_at < filesize) return fail("truncated file data", size_, name);
    size_t next_at;
    if (!align4(data_at + filesize, next_at) || next_at > size_)
      return fail("truncated data padding", size_, name);

    if (name == TRAILER) {
      in_archive_ = false;
      pos_ = next_at;
      continue;  // skip padding; maybe another archive follows
    }

    const uint32_t type = f[F_MODE] & TYPE_MASK;
    if (!known_type(type)) return fail("unknown file type in c_mode", field_at(F_MODE), name);
    if (type == TYPE_DIR && filesize != 0) return fail("directory entry with data", field_at(F_FILESIZE), name);
    if (type == TYPE_SYMLINK) {
      if (filesize == 0 || filesize > MAX_PATH) return fail("bad symlink target length", field_at(F_FILESIZE), name);
      for (size_t i = 0; i < filesize; ++i)
        if (data_[data_at + i] == 0) return fail("NUL inside symlink target", data_at + i, name);
    }
    if (crc) {
      // 070702: c_check is the 32-bit sum of the data bytes (cpio(5)).
      uint32_t sum = 0;
      for (size_t i = 0; i < filesize; ++i) sum += data_[data_at + i];
      if (sum != f[F_CHECK]) return fail("checksum mismatch", field_at(F_CHECK), name);
    }

    in_archive_ = true;
    out = Entry{};
    out.name = name;
    out.mode = f[F_MODE];
    out.uid = f[F_UID];
    out.gid = f[F_GID];
    out.nlink = f[F_NLINK];
    out.mtime = f[F_MTIME];
    out.ino = f[F_INO];
    out.dev_major = f[F_DEVMAJOR];
    out.dev_minor = f[F_DEVMINOR];
    out.rdev_major = f[F_RDEVMAJOR];
    out.rdev_minor = f[F_RDEVMINOR];
    out.data = data_ + data_at;
    out.size = filesize;
    out.offset = start;
    pos_ = next_at;
    return true;
  }
}

StringView relative_path(StringView name) {
  for (;;) {
    if (name.starts_with("/")) {
      name = name.substr(1);
    } else if (name.starts_with("./")) {
      name = name.substr(2);
    } else if (name == ".") {
      return StringView("", 0);
    } else {
      return name;
    }
  }
}

void format_value(Sink& sink, const FormatSpec&, const CpioError& e) {
  if (e.entry.empty())
    format(sink, "initrd: {} at offset {:#x}", e.reason ? e.reason : "no error", e.offset);
  else
    format(sink, "initrd: {} at offset {:#x} (entry '{}')", e.reason ? e.reason : "no error", e.offset, e.entry);
}

}  // namespace capsule::cpio
