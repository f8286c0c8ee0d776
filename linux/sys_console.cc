// Console I/O for this stage: file descriptors 0-2 are the serial console
// (the VFS issue brings a real fd table). Output goes straight to the
// console; input reads what the UART has (0 = end of file when nothing is
// waiting).
#include "arch/x64/cpu/x64.h"
#include "capsule/console.h"
#include "capsule/uaccess.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

constexpr uint64_t TCGETS = 0x5401, TIOCGWINSZ = 0x5413, TIOCGPGRP = 0x540f;

bool is_console(uint64_t fd) { return fd <= 2; }

int64_t console_out(uint64_t buf, uint64_t len) {
  char chunk[256];
  uint64_t done = 0;
  while (done < len) {
    size_t n = len - done < sizeof(chunk) ? size_t(len - done) : sizeof(chunk);
    if (!copy_from_user(chunk, reinterpret_cast<const void*>(buf + done), n).ok()) return done ? int64_t(done) : -kEFAULT;
    console_write(chunk, n);
    done += n;
  }
  return int64_t(done);
}

}  // namespace

LINUX_SYSCALL(1, write, "fbu") {
  if (!is_console(args.a[0])) return -kEBADF;
  if (int64_t(args.a[2]) < 0) return -kEINVAL;
  return console_out(args.a[1], args.a[2]);
}

LINUX_SYSCALL(20, writev, "fpd") {
  if (!is_console(args.a[0])) return -kEBADF;
  uint64_t iovcnt = args.a[2];
  if (iovcnt > 1024) return -kEINVAL;
  int64_t total = 0;
  for (uint64_t i = 0; i < iovcnt; ++i) {
    struct { uint64_t base, len; } iov;
    if (!copy_from_user(&iov, reinterpret_cast<const void*>(args.a[1] + i * 16), 16).ok()) return total ? total : -kEFAULT;
    if (int64_t(iov.len) < 0) return -kEINVAL;
    int64_t r = console_out(iov.base, iov.len);
    if (r < 0) return total ? total : r;
    total += r;
  }
  return total;
}

LINUX_SYSCALL(0, read, "fpu") {
  if (!is_console(args.a[0])) return -kEBADF;
  if (args.a[2] == 0) return 0;
  // Whatever the UART holds now; nothing waiting reads as end of file.
  char c;
  uint64_t n = 0;
  while (n < args.a[2] && (x64::inb(0x3f8 + 5) & 1)) {
    c = char(x64::inb(0x3f8));
    if (!copy_to_user(reinterpret_cast<void*>(args.a[1] + n), &c, 1).ok()) return n ? int64_t(n) : -kEFAULT;
    ++n;
    if (c == '\n') break;
  }
  return int64_t(n);
}

LINUX_SYSCALL(16, ioctl, "fxp") {
  if (!is_console(args.a[0])) return -kEBADF;
  switch (args.a[1]) {
    case TCGETS:
    case TIOCGPGRP:
      // The serial console is not a terminal the program can configure yet:
      // isatty() is false, so programs use full buffering and no colours.
      return -kENOTTY;
    case TIOCGWINSZ:
      return -kENOTTY;
    default:
      return -kENOTTY;
  }
}

}  // namespace capsule::linux_abi
