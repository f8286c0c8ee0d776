#pragma once
// cpio "newc" archives, as QEMU's -initrd hands them over (docs/initrd.md).
//
// Format (cpio(5), "New ASCII Format"; Linux Documentation/driver-api/
// early-userspace/buffer-format.rst): each entry is a 110-byte header of
// "070701" and thirteen 8-digit hex fields, the NUL-terminated name padded
// so that the data starts on a 4-byte boundary, then the data padded to 4.
// The entry named "TRAILER!!!" ends an archive. "070702" (newc with a
// checksum of the data bytes) is accepted and its checksum verified.
// Like Linux's initramfs unpacker, zero padding after a trailer is skipped
// and a further archive may follow (concatenated initrds).
//
// Zero-copy: entries point into the archive, which must outlive them.
// Every defect stops iteration with Error::BadFormat and a CpioError naming
// the entry (when its name was read) and the byte offset of the problem.
#include <cstddef>
#include <cstdint>

#include "lib/format.h"
#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::cpio {

// File-type bits of c_mode: the st_mode values of POSIX <sys/stat.h>,
// which cpio stores verbatim (own names: S_IF* are macros on the host).
enum FileType : uint32_t {
  TYPE_MASK = 0170000,     // S_IFMT
  TYPE_SOCKET = 0140000,   // S_IFSOCK
  TYPE_SYMLINK = 0120000,  // S_IFLNK
  TYPE_REGULAR = 0100000,  // S_IFREG
  TYPE_BLOCK = 0060000,    // S_IFBLK
  TYPE_DIR = 0040000,      // S_IFDIR
  TYPE_CHAR = 0020000,     // S_IFCHR
  TYPE_FIFO = 0010000,     // S_IFIFO
};

constexpr size_t HEADER_SIZE = 110;
// Longest name or symlink target accepted (Linux's PATH_MAX).
constexpr size_t MAX_PATH = 4096;

struct Entry {
  StringView name;          // as stored, without the NUL ("./bin/sh", "bin", ".")
  uint32_t mode = 0;        // type and permission bits
  uint32_t uid = 0, gid = 0;
  uint32_t nlink = 0;
  uint32_t mtime = 0;       // seconds since the epoch
  uint32_t ino = 0;
  uint32_t dev_major = 0, dev_minor = 0;    // the file system the entry came from
  uint32_t rdev_major = 0, rdev_minor = 0;  // for device nodes
  const uint8_t* data = nullptr;            // file contents or symlink target
  size_t size = 0;
  size_t offset = 0;        // of the header in the archive

  uint32_t type() const { return mode & TYPE_MASK; }
  uint32_t permissions() const { return mode & 07777; }
  bool is_regular() const { return type() == TYPE_REGULAR; }
  bool is_dir() const { return type() == TYPE_DIR; }
  bool is_symlink() const { return type() == TYPE_SYMLINK; }
  StringView symlink_target() const { return {reinterpret_cast<const char*>(data), size}; }
  // A regular file with nlink > 1 is one name of a hard-linked inode: all
  // names share (dev_major, dev_minor, ino). Writers put the data on one of
  // them (GNU cpio on the last, others on the first) and size 0 on the rest,
  // so a populator links names with the same key and keeps the data of
  // whichever entry carries it.
  bool is_hard_link() const { return is_regular() && nlink > 1; }
};

struct CpioError {
  const char* reason = nullptr;
  size_t offset = 0;        // byte offset in the archive where it went wrong
  StringView entry;         // name of the entry at fault, empty if not read yet
};

// "initrd: <reason> at offset 0x... (entry '<name>')" for boot messages.
void format_value(Sink& sink, const FormatSpec& spec, const CpioError& e);

// Iterates over the entries of one or more concatenated archives.
//
//   cpio::Reader r(data, size);
//   cpio::Entry e;
//   while (TRY(r.next(e))) { ... }
//   // error details: r.error()
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  // true with the next entry in `out`; false at the end of the input (after
  // the last trailer); BadFormat on a defect (see error()). After an error
  // or the end, next() keeps returning the same answer.
  Result<bool> next(Entry& out);
  const CpioError& error() const { return error_; }
  // Offset of the next header to read (the end of what was consumed).
  size_t offset() const { return pos_; }

 private:
  Error fail(const char* reason, size_t offset, StringView entry = {});

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool in_archive_ = false;  // between a first header and its trailer
  bool done_ = false;
  CpioError error_;
};

// The path of an entry inside the root: leading "/" and "./" removed, "."
// becomes "" (the root itself). Names are not otherwise normalized.
StringView relative_path(StringView name);

}  // namespace capsule::cpio
