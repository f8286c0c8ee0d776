// The console and /dev/null as descriptor objects (linux/console_file.h).
#include "linux/console_file.h"

#include <new>

#include "arch/x64/cpu/x64.h"
#include "capsule/console.h"
#include "linux/file_common.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;
using vfs::VnodeRef;

constexpr uint64_t dev(uint64_t major, uint64_t minor) { return (major << 32) | minor; }

class ConsoleVnode final : public StreamVnode {
 public:
  ConsoleVnode(bool null, uint64_t rdev, uint32_t perm) : StreamVnode(vfs::MODE_CHAR | perm, rdev), null_(null) {}

  // What the UART holds now; nothing waiting reads as end of file.
  Result<size_t> read_stream(vfs::IoBuffer& buf, OpenFile&) override {
    if (null_) return size_t(0);
    size_t n = 0;
    while (n < buf.size() && (x64::inb(0x3f8 + 5) & 1)) {
      char c = char(x64::inb(0x3f8));
      if (!buf.copy_out(n, &c, 1).ok()) return n ? Result<size_t>(n) : Result<size_t>(Error::Fault);
      ++n;
      if (c == '\n') break;
    }
    return n;
  }
  Result<size_t> write_stream(vfs::IoBuffer& buf, OpenFile&) override {
    if (null_) return buf.size();
    char chunk[256];
    size_t done = 0;
    while (done < buf.size()) {
      size_t n = buf.size() - done < sizeof(chunk) ? buf.size() - done : sizeof(chunk);
      if (!buf.copy_in(done, chunk, n).ok()) return done ? Result<size_t>(done) : Result<size_t>(Error::Fault);
      console_write(chunk, n);
      done += n;
    }
    return done;
  }
  // The serial console is not a terminal the program can configure yet:
  // isatty() is false, so programs use full buffering and no colours.
  int64_t ioctl(OpenFile&, uint64_t, uint64_t) override { return -kENOTTY; }
  int64_t seek() override { return null_ ? 0 : -kESPIPE; }

 private:
  bool null_;
};

ConsoleVnode* g_console;  // /dev/console, fds 0-2
ConsoleVnode* g_tty;      // /dev/tty
ConsoleVnode* g_null;     // /dev/null

}  // namespace

StreamVnode* device_for(vfs::Vnode& v) {
  if (v.type() != vfs::VType::Char || as_stream(v)) return nullptr;
  auto a = v.getattr();
  if (!a.ok()) return nullptr;
  uint64_t rdev = a.value().rdev;
  if (rdev == dev(1, 3)) return g_null;
  if (rdev == dev(5, 1)) return g_console;
  if (rdev == dev(5, 0)) return g_tty;
  return nullptr;
}

Result<void> console_files_init(vfs::Vfs&, const vfs::PathContext&, vfs::FdTable& fds) {
  g_console = new (std::nothrow) ConsoleVnode(false, dev(5, 1), 0620);
  g_tty = new (std::nothrow) ConsoleVnode(false, dev(5, 0), 0666);
  g_null = new (std::nothrow) ConsoleVnode(true, dev(1, 3), 0666);
  if (!g_console || !g_tty || !g_null) return Error::NoMemory;
  // The /dev nodes that open these are devfs's (fs/devfs).
  return console_install_stdio(fds);
}

Result<void> console_install_stdio(vfs::FdTable& fds) {
  // fds 0-2: the console (0 for reading, 1 and 2 for writing).
  uint32_t modes[3] = {OpenFile::READ, OpenFile::WRITE, OpenFile::WRITE};
  for (uint32_t m : modes) {
    auto f = TRY(OpenFile::create(VnodeRef(g_console), m));
    f->abi_flags.store(0);
    TRY(fds.install(f));
  }
  return {};
}

}  // namespace capsule::linux_abi
