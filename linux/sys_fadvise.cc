// Page-cache advice: fadvise64 and readahead. ramfs's pages are the cache
// and are always resident, so both only validate their arguments the way
// Linux does (mm/fadvise.c, mm/readahead.c) and succeed. sort, xz and
// sha256sum call fadvise64 on their input. docs/syscalls.md.
#include "fs/file.h"
#include "fs/vfs.h"
#include "linux/file_common.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

// posix_fadvise(2) advice values (POSIX_FADV_*, x86-64).
constexpr int FADV_NORMAL = 0, FADV_NOREUSE = 5;

bool is_fifo(vfs::Vnode& v) {
  if (v.type() == vfs::VType::Fifo) return true;
  auto a = v.getattr();
  return a.ok() && vfs::type_of_mode(a->mode) == vfs::VType::Fifo;
}

}  // namespace

// fadvise64(fd, offset, len, advice). EBADF: not an open descriptor
// (O_PATH included); ESPIPE: a pipe or FIFO; EINVAL: unknown advice or a
// negative length. Everything else has a page cache here: 0.
DEFINE_SYSCALL(221, fadvise64, Result<void>, Fd fd, int64_t offset, int64_t len, int advice) {
  vfs::FileRef f = TRY(get_file(fd));
  if (f->flags() & vfs::OpenFile::PATH) return Error::BadFd;
  if (is_fifo(f->vnode())) return Error::IllegalSeek;
  if (len < 0 || advice < FADV_NORMAL || advice > FADV_NOREUSE) return Error::Invalid;
  return {};
}

// readahead(fd, offset, count): EBADF unless open for reading; EINVAL for
// anything but a regular file.
DEFINE_SYSCALL(187, readahead, Result<void>, Fd fd, int64_t offset, size_t count) {
  vfs::FileRef f = TRY(get_file(fd));
  if ((f->flags() & vfs::OpenFile::PATH) || !f->readable()) return Error::BadFd;
  if (!f->vnode().is_regular() || f->vnode().is_stream()) return Error::Invalid;
  return {};
}

}  // namespace capsule::linux_abi
