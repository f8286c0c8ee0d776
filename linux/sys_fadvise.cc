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
constexpr int64_t FADV_NORMAL = 0, FADV_NOREUSE = 5;

bool is_fifo(vfs::Vnode& v) {
  if (v.type() == vfs::VType::Fifo) return true;
  auto a = v.getattr();
  return a.ok() && vfs::type_of_mode(a->mode) == vfs::VType::Fifo;
}

}  // namespace

// fadvise64(fd, offset, len, advice). EBADF: not an open descriptor
// (O_PATH included); ESPIPE: a pipe or FIFO; EINVAL: unknown advice or a
// negative length. Everything else has a page cache here: 0.
LINUX_SYSCALL(221, fadvise64, "fddd") {
  const int64_t len = int64_t(args.a[2]), advice = int32_t(args.a[3]);
  auto f = get_file(args.a[0]);
  if (!f) return -kEBADF;
  if ((*f)->flags() & vfs::OpenFile::PATH) return -kEBADF;
  if (is_fifo((*f)->vnode())) return -kESPIPE;
  if (len < 0 || advice < FADV_NORMAL || advice > FADV_NOREUSE) return -kEINVAL;
  return 0;
}

// readahead(fd, offset, count): EBADF unless open for reading; EINVAL for
// anything but a regular file.
LINUX_SYSCALL(187, readahead, "fdu") {
  auto f = get_file(args.a[0]);
  if (!f) return -kEBADF;
  if (((*f)->flags() & vfs::OpenFile::PATH) || !(*f)->readable()) return -kEBADF;
  if (!(*f)->vnode().is_regular() || (*f)->vnode().is_stream()) return -kEINVAL;
  return 0;
}

}  // namespace capsule::linux_abi
