// FIFOs: mknod(2)/mknodat(2), and the pipe behind each FIFO node
// (docs/events.md; fifo(7), open(2)).
//
// A table maps each FIFO node that has open ends (or opens in progress) to
// one Pipe; every open makes a pipe end on it (linux/sys_pipe.cc's
// pipe_vnode), and the entry — with the data in the pipe — goes away when
// the last end closes, as on Linux. Opens that must wait for the other side
// sleep on the entry until a partner's open counts up (a counter, not the
// number of open ends, so a partner that opens and closes at once still
// wakes them).
#include "linux/fifo.h"

#include <new>

#include "core/pipe.h"
#include "fs/vfs.h"
#include "core/event/sync.h"
#include "core/event/wait.h"
#include "lib/intrusive_list.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/pipe_file.h"
#include "linux/signal.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using event::Hold;
using vfs::OpenFile;
using vfs::VnodeRef;

struct Fifo final : PipeEndOwner {
  VnodeRef node;
  Pipe* pipe = nullptr;
  unsigned readers = 0, writers = 0;  // open ends (and opens waiting); under g_mu
  uint64_t reader_opens = 0, writer_opens = 0;  // ever; under g_mu
  event::WaitList partners;           // opens waiting for the other side
  ListNode link;                      // in g_fifos

  void end_closed(bool reader, bool writer) override;
};

Mutex g_mu;
IntrusiveList<Fifo, &Fifo::link> g_fifos GUARDED_BY(g_mu);

Fifo* find_locked(vfs::Vnode* node) REQUIRES(g_mu) {
  g_mu.assert_held();
  for (Fifo& f : g_fifos)
    if (f.node.get() == node) return &f;
  return nullptr;
}

// Drops the entry if nothing uses it. Returns it to delete (outside g_mu).
Fifo* unused_locked(Fifo* f) REQUIRES(g_mu) {
  g_mu.assert_held();
  if (f->readers || f->writers) return nullptr;
  g_fifos.remove(*f);
  return f;
}

void destroy(Fifo* f) {
  if (!f) return;
  pipe_release(f->pipe);
  delete f;
}

void Fifo::end_closed(bool reader, bool writer) {
  Fifo* dead;
  {
    Hold<Mutex> g(g_mu);
    if (reader) --readers;
    if (writer) --writers;
    dead = unused_locked(this);
  }
  destroy(dead);
}

}  // namespace

bool is_fifo_node(vfs::Vnode& v) { return v.type() == vfs::VType::Fifo && !v.is_stream(); }

Result<void> fifo_open(vfs::FileRef& f) {
  uint32_t flags = f->flags();
  bool rd = flags & OpenFile::READ, wr = flags & OpenFile::WRITE, nonblock = flags & OpenFile::NONBLOCK;
  Fifo* fi;
  PipeEnd* end = nullptr;
  Error err = Error::None;
  {
    Hold<Mutex> g(g_mu);
    fi = find_locked(&f->vnode());
    if (wr && !rd && nonblock && (!fi || !fi->readers)) return Error::NoDeviceOrAddress;  // open(2)
    if (!fi) {
      fi = new (std::nothrow) Fifo;
      if (!fi) return Error::NoMemory;
      auto p = pipe_alloc(PIPE_DEFAULT_SIZE, pipe_caller());
      if (!p.ok()) {
        delete fi;
        return p.error();
      }
      fi->pipe = p.value();
      fi->node = f->vnode_ref();
      g_fifos.push_back(*fi);
    }
    // A nonblocking reader that finds no writer sees no POLLHUP until one
    // comes and goes (fifo(7) programs poll for their first writer).
    auto e = PipeEnd::open(fi->pipe, rd, wr, rd && !wr && nonblock && !fi->writers);
    if (e.ok()) {
      end = e.value();
      if (rd) ++fi->readers, ++fi->reader_opens;
      if (wr) ++fi->writers, ++fi->writer_opens;
      fi->partners.wake_all();
      // One side only, blocking, nobody on the other side: wait until
      // someone opens it (fifo(7)).
      if (rd != wr && !nonblock && !(rd ? fi->writers : fi->readers)) {
        uint64_t& opens = rd ? fi->writer_opens : fi->reader_opens;
        uint64_t start = opens;
        while (opens == start) {
          auto w = fi->partners.wait(g_mu, 0);
          if (!w.ok() && w.error() == Error::Interrupted) break;
        }
        if (opens == start) {  // a signal: undo the open
          delete end;
          end = nullptr;
          if (rd) --fi->readers;
          if (wr) --fi->writers;
          err = Error::RestartSys;
        }
      }
    } else {
      err = Error::NoMemory;
    }
    if (err != Error::None) fi = unused_locked(fi);
  }
  if (err != Error::None) {
    destroy(fi);
    return err;
  }
  auto v = pipe_vnode(end, f->vnode_ref(), fi);  // from now on the end's close tells fi
  if (!v.ok()) {
    fi->end_closed(rd, wr);
    return v.error();
  }
  auto nf = OpenFile::create(static_cast<VnodeRef&&>(v.value()), flags & (OpenFile::READ | OpenFile::WRITE |
                                                                          OpenFile::APPEND | OpenFile::NONBLOCK));
  if (!nf.ok()) return nf.error();
  f = static_cast<vfs::FileRef&&>(nf.value());
  return {};
}

// --- mknod ---------------------------------------------------------------------

namespace {

// mknod(2): dev is the 32-bit dev_t the call takes (major in bits 8-19,
// minor in 0-7 and 20-31).
Result<void> mknod_at(AtFd dirfd, UserString upath, uint32_t mode, uint32_t dev) {
  uint32_t type = mode & vfs::MODE_TYPE;
  switch (type) {
    case 0: case vfs::MODE_REGULAR: case vfs::MODE_FIFO: case vfs::MODE_SOCKET:
    case vfs::MODE_CHAR: case vfs::MODE_BLOCK:
      break;  // device nodes need CAP_MKNOD: everything runs as root
    case vfs::MODE_DIR: return Error::Permission;
    default: return Error::Invalid;
  }
  UserPath p;
  TRY(copy_path(upath, p));
  Ctx ctx = TRY(at_ctx(dirfd, p));
  vfs::CreateArgs a;
  a.mode = (type ? type : vfs::MODE_REGULAR) | (mode & 07777 & ~current_umask());
  a.uid = current_fsuid();
  a.gid = current_fsgid();
  if (type == vfs::MODE_CHAR || type == vfs::MODE_BLOCK) {
    uint64_t major = (dev >> 8) & 0xfff, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    a.rdev = (major << 32) | minor;
  }
  return vfs::kernel_vfs()->mknod(ctx.pc(), p.view(), a);
}

}  // namespace

DEFINE_SYSCALL(133, mknod, Result<void>, UserString path, Mode mode, Hex<unsigned> dev) {
  return mknod_at(AT_CWD, path, mode, dev);
}
DEFINE_SYSCALL(259, mknodat, Result<void>, AtFd dirfd, UserString path, Mode mode, Hex<unsigned> dev) {
  return mknod_at(dirfd, path, mode, dev);
}

}  // namespace capsule::linux_abi
