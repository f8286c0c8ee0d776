// --strace: arguments and results as strace prints them (docs/strace.md).
//
// Each call strace knows well has a spec here: one letter per argument
// register, in order (the table below). A call without a spec prints its
// arguments from its typed definition (linux/syscall_types.h). Output
// arguments (upper-case letters that the kernel fills: a read buffer, a
// stat) are printed when the call returned, and as their address when it
// failed; everything before the first of them is the "entry" part of an
// <unfinished ...> line.
#include "linux/strace_args.h"

#include "arch/uaccess.h"
#include "linux/syscall.h"

namespace capsule::linux_abi::strace {
namespace {

constexpr size_t STRING_MAX = 32;  // strace's -s default: bytes of a buffer
constexpr size_t PATH_SHOWN = 255;  // a path's bytes (strace: all of them)
constexpr uint32_t TABLE_SIZE = 512;

// Argument kinds (lower case: read by the kernel; upper case and '<'...:
// filled by it, printed at exit).
//   d int          l long        u unsigned long   x hex ("0" for 0)
//   p pointer      f fd          a dirfd (AT_FDCWD) s path
//   b buffer (length: next register)               m mode (octal)
//   o open flags (O_RDONLY|...)  C mode if the flags before have O_CREAT/O_TMPFILE
//   e O_* flags without the access mode ("0" for none)
//   P PROT_*       M MAP_*       w whence          F AT_* flags
//   k access mode  c clock id    t timespec in     g signal
//   h sigprocmask how            q sigset in       A sigaction in
//   v iovec array in (count: next register)        n sockaddr in (length: next)
//   D address family  y socket type  j protocol    r argv   E envp
//   R arch_prctl code            G getrandom flags  z fadvise advice
//   B buffer out (length: the result)  H the same, in hex (getrandom)
//   S stat out     T timespec out  Q sigset out    Z sigaction out
//   V iovec array out (bytes: the result)          Y string out (getcwd)
//   I int[2] out (pipe)
struct Spec {
  const char* name;
  const char* args;
};

constexpr Spec SPECS[] = {
    {"read", "fBu"}, {"write", "fbu"}, {"open", "soC"}, {"openat", "asoC"}, {"close", "f"},
    {"creat", "sm"}, {"stat", "sS"}, {"lstat", "sS"}, {"fstat", "fS"}, {"newfstatat", "asSF"},
    {"lseek", "flw"}, {"pread64", "fBul"}, {"pwrite64", "fbul"}, {"readv", "fVd"}, {"writev", "fvd"},
    {"preadv", "fVdl"}, {"pwritev", "fvdl"},
    {"mmap", "puPMfx"}, {"mprotect", "puP"}, {"munmap", "pu"}, {"brk", "p"},
    {"access", "sk"}, {"faccessat", "ask"}, {"faccessat2", "askF"}, {"unlink", "s"}, {"unlinkat", "asF"},
    {"mkdir", "sm"}, {"mkdirat", "asm"}, {"rmdir", "s"}, {"chdir", "s"}, {"fchdir", "f"},
    {"rename", "ss"}, {"renameat", "asas"}, {"link", "ss"}, {"symlink", "ss"}, {"readlink", "sBu"},
    {"readlinkat", "asBu"}, {"chmod", "sm"}, {"fchmod", "fm"}, {"fchmodat", "asm"}, {"truncate", "sl"},
    {"ftruncate", "fl"}, {"getcwd", "Yu"}, {"dup", "f"}, {"dup2", "ff"}, {"dup3", "ffe"},
    {"pipe", "I"}, {"pipe2", "Ie"}, {"fsync", "f"}, {"fdatasync", "f"},
    {"nanosleep", "tT"}, {"clock_nanosleep", "cdtT"}, {"clock_gettime", "cT"}, {"clock_getres", "cT"},
    {"exit", "d"}, {"exit_group", "d"}, {"kill", "dg"}, {"tkill", "dg"}, {"tgkill", "ddg"},
    {"rt_sigaction", "gAZu"}, {"rt_sigprocmask", "hqQu"}, {"rt_sigsuspend", "qu"},
    {"socket", "Dyj"}, {"connect", "fnu"}, {"bind", "fnu"}, {"listen", "fd"},
    {"execve", "srE"}, {"arch_prctl", "Rx"}, {"set_tid_address", "p"}, {"set_robust_list", "pu"},
    {"getrandom", "HuG"}, {"umask", "m"}, {"fadvise64", "fllz"},
};

const char* g_spec[TABLE_SIZE];

bool is_output(char k) { return StringView("BHSTQZVYI").find(k) != StringView::npos; }

// --- values ---------------------------------------------------------------

struct FlagName {
  uint64_t bits;
  const char* name;
};

// Names of the set bits, '|'-joined, any rest in hex; `zero` for 0.
void print_flags(Sink& s, uint64_t v, const FlagName* t, size_t n, const char* zero) {
  if (!v) {
    format(s, "{}", zero);
    return;
  }
  bool first = true;
  for (size_t i = 0; i < n; ++i) {
    if (t[i].bits && (v & t[i].bits) == t[i].bits) {
      format(s, "{}{}", first ? "" : "|", t[i].name);
      first = false;
      v &= ~t[i].bits;
    }
  }
  if (v) format(s, "{}{:#x}", first ? "" : "|", v);
}

template <size_t N>
void print_flags(Sink& s, uint64_t v, const FlagName (&t)[N], const char* zero = "0") {
  print_flags(s, v, t, N, zero);
}

// A value that is one of a set of names, else a number.
template <size_t N>
void print_enum(Sink& s, int64_t v, const FlagName (&t)[N]) {
  for (const FlagName& f : t)
    if (int64_t(f.bits) == v) {
      format(s, "{}", f.name);
      return;
    }
  format(s, "{}", v);
}

void print_hex(Sink& s, uint64_t v) {
  if (v) format(s, "{:#x}", v);
  else format(s, "0");
}

void print_ptr(Sink& s, uint64_t v) {
  if (v) format(s, "{:#x}", v);
  else format(s, "NULL");
}

// strace's quoting: printable ASCII as is, C escapes, other bytes in
// octal (three digits when a digit follows) or, with hex, every byte \xNN.
void print_quoted(Sink& s, const uint8_t* p, size_t n, bool more, bool hex) {
  s.put('"');
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = p[i];
    if (hex) {
      format(s, "\\x{:02x}", c);
      continue;
    }
    switch (c) {
      case '"': format(s, "\\\""); continue;
      case '\\': format(s, "\\\\"); continue;
      case '\f': format(s, "\\f"); continue;
      case '\n': format(s, "\\n"); continue;
      case '\r': format(s, "\\r"); continue;
      case '\t': format(s, "\\t"); continue;
      case '\v': format(s, "\\v"); continue;
      default: break;
    }
    if (c >= ' ' && c < 0x7f) {
      s.put(char(c));
      continue;
    }
    bool digit_next = i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '7';
    if (digit_next) format(s, "\\{}{}{}", char('0' + (c >> 6)), char('0' + ((c >> 3) & 7)), char('0' + (c & 7)));
    else format(s, "\\{:o}", c);
  }
  s.put('"');
  if (more) format(s, "...");
}

// A buffer of len bytes at addr (cut at STRING_MAX); its address when it
// cannot be read.
void print_buffer(Sink& s, uint64_t addr, uint64_t len, bool hex = false) {
  if (!addr) {
    format(s, "NULL");
    return;
  }
  uint8_t buf[STRING_MAX];
  size_t want = len < STRING_MAX ? size_t(len) : STRING_MAX;
  if (!copy_from_user(buf, reinterpret_cast<const void*>(addr), want).ok()) {
    format(s, "{:#x}", addr);
    return;
  }
  print_quoted(s, buf, want, len > STRING_MAX, hex);
}

// A NUL-terminated string (cut at max bytes).
void print_string(Sink& s, uint64_t addr, size_t max) {
  if (!addr) {
    format(s, "NULL");
    return;
  }
  char buf[256];
  size_t cap = max + 1 < sizeof(buf) ? max + 1 : sizeof(buf);
  auto r = strncpy_from_user(buf, reinterpret_cast<const char*>(addr), cap);
  if (!r.ok() && r.error() != Error::TooBig) {
    format(s, "{:#x}", addr);
    return;
  }
  size_t got = r.ok() ? r.value() : cap - 1;
  size_t shown = got < max ? got : max;
  print_quoted(s, reinterpret_cast<const uint8_t*>(buf), shown, !r.ok() || got > max, false);
}

void print_path(Sink& s, uint64_t addr) { print_string(s, addr, PATH_SHOWN); }

constexpr FlagName OPEN_FLAGS[] = {
    {0100, "O_CREAT"}, {0200, "O_EXCL"}, {0400, "O_NOCTTY"}, {01000, "O_TRUNC"}, {02000, "O_APPEND"},
    {04000, "O_NONBLOCK"}, {04010000, "O_SYNC"}, {010000, "O_DSYNC"}, {020000, "O_ASYNC"}, {040000, "O_DIRECT"},
    {0100000, "O_LARGEFILE"}, {020200000, "O_TMPFILE"}, {0200000, "O_DIRECTORY"}, {0400000, "O_NOFOLLOW"},
    {01000000, "O_NOATIME"}, {02000000, "O_CLOEXEC"}, {010000000, "O_PATH"},
};

void print_open_flags(Sink& s, uint64_t v) {
  v &= 0xffffffffu;
  static const char* const MODES[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
  format(s, "{}", MODES[v & 3]);
  if (v & ~3ull) {
    s.put('|');
    print_flags(s, v & ~3ull, OPEN_FLAGS);
  }
}

constexpr FlagName PROT_FLAGS[] = {
    {1, "PROT_READ"}, {2, "PROT_WRITE"}, {4, "PROT_EXEC"}, {8, "PROT_SEM"},
    {0x01000000, "PROT_GROWSDOWN"}, {0x02000000, "PROT_GROWSUP"},
};

constexpr FlagName MAP_FLAGS[] = {
    {0x10, "MAP_FIXED"}, {0x20, "MAP_ANONYMOUS"}, {0x40, "MAP_32BIT"}, {0x100, "MAP_GROWSDOWN"},
    {0x800, "MAP_DENYWRITE"}, {0x1000, "MAP_EXECUTABLE"}, {0x2000, "MAP_LOCKED"}, {0x4000, "MAP_NORESERVE"},
    {0x8000, "MAP_POPULATE"}, {0x10000, "MAP_NONBLOCK"}, {0x20000, "MAP_STACK"}, {0x40000, "MAP_HUGETLB"},
    {0x80000, "MAP_SYNC"}, {0x100000, "MAP_FIXED_NOREPLACE"},
};

void print_map_flags(Sink& s, uint64_t v) {
  v &= 0xffffffffu;
  static const char* const TYPES[] = {"0", "MAP_SHARED", "MAP_PRIVATE", "MAP_SHARED_VALIDATE"};
  bool any = (v & 3) != 0;
  if (any) format(s, "{}", TYPES[v & 3]);
  if (v & ~3ull) {
    if (any) s.put('|');
    print_flags(s, v & ~3ull, MAP_FLAGS);
  } else if (!any) {
    format(s, "0");
  }
}

constexpr FlagName AT_FLAGS[] = {
    {0x100, "AT_SYMLINK_NOFOLLOW"}, {0x200, "AT_REMOVEDIR"}, {0x400, "AT_SYMLINK_FOLLOW"},
    {0x800, "AT_NO_AUTOMOUNT"}, {0x1000, "AT_EMPTY_PATH"},
};

constexpr FlagName WHENCE[] = {{0, "SEEK_SET"}, {1, "SEEK_CUR"}, {2, "SEEK_END"}, {3, "SEEK_DATA"}, {4, "SEEK_HOLE"}};

constexpr FlagName ACCESS_MODE[] = {{4, "R_OK"}, {2, "W_OK"}, {1, "X_OK"}};

constexpr FlagName CLOCKS[] = {
    {0, "CLOCK_REALTIME"}, {1, "CLOCK_MONOTONIC"}, {2, "CLOCK_PROCESS_CPUTIME_ID"}, {3, "CLOCK_THREAD_CPUTIME_ID"},
    {4, "CLOCK_MONOTONIC_RAW"}, {5, "CLOCK_REALTIME_COARSE"}, {6, "CLOCK_MONOTONIC_COARSE"}, {7, "CLOCK_BOOTTIME"},
    {8, "CLOCK_REALTIME_ALARM"}, {9, "CLOCK_BOOTTIME_ALARM"}, {11, "CLOCK_TAI"},
};

constexpr const char* SIGNALS[] = {
    nullptr, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
    "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
    "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
    "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
};

// A signal in a set: "INT", "RTMIN", "RT_3".
void print_set_member(Sink& s, int sig) {
  if (sig < 32) format(s, "{}", SIGNALS[sig] + 3);
  else if (sig == 32) format(s, "RTMIN");
  else format(s, "RT_{}", sig - 32);
}

constexpr FlagName HOW[] = {{0, "SIG_BLOCK"}, {1, "SIG_UNBLOCK"}, {2, "SIG_SETMASK"}};

// [INT TERM], or ~[...] listing what is missing when most are there.
void print_sigset_value(Sink& s, uint64_t set) {
  int count = __builtin_popcountll(set);
  bool invert = count > 32;
  if (invert) {
    s.put('~');
    set = ~set;
  }
  s.put('[');
  bool first = true;
  for (int sig = 1; sig <= 64; ++sig) {
    if (!(set >> (sig - 1) & 1)) continue;
    if (!first) s.put(' ');
    first = false;
    print_set_member(s, sig);
  }
  s.put(']');
}

void print_sigset(Sink& s, uint64_t addr) {
  uint64_t set;
  if (!addr) {
    format(s, "NULL");
    return;
  }
  if (!copy_from_user(&set, reinterpret_cast<const void*>(addr), sizeof set).ok()) {
    format(s, "{:#x}", addr);
    return;
  }
  print_sigset_value(s, set);
}

constexpr FlagName SA_FLAGS[] = {
    {0x04000000, "SA_RESTORER"}, {0x08000000, "SA_ONSTACK"}, {0x10000000, "SA_RESTART"},
    {0x40000000, "SA_NODEFER"}, {0x80000000, "SA_RESETHAND"}, {4, "SA_SIGINFO"}, {1, "SA_NOCLDSTOP"},
    {2, "SA_NOCLDWAIT"},
};

void print_sigaction(Sink& s, uint64_t addr) {
  struct {
    uint64_t handler, flags, restorer, mask;
  } k;
  if (!addr) {
    format(s, "NULL");
    return;
  }
  if (!copy_from_user(&k, reinterpret_cast<const void*>(addr), sizeof k).ok()) {
    format(s, "{:#x}", addr);
    return;
  }
  format(s, "{{sa_handler=");
  if (k.handler == 0) format(s, "SIG_DFL");
  else if (k.handler == 1) format(s, "SIG_IGN");
  else format(s, "{:#x}", k.handler);
  format(s, ", sa_mask=");
  print_sigset_value(s, k.mask);
  format(s, ", sa_flags=");
  print_flags(s, k.flags, SA_FLAGS);
  if (k.flags & 0x04000000) format(s, ", sa_restorer={:#x}", k.restorer);
  s.put('}');
}

void print_timespec(Sink& s, uint64_t addr) {
  int64_t ts[2];
  if (!addr) {
    format(s, "NULL");
    return;
  }
  if (!copy_from_user(ts, reinterpret_cast<const void*>(addr), sizeof ts).ok()) {
    format(s, "{:#x}", addr);
    return;
  }
  format(s, "{{tv_sec={}, tv_nsec={}}}", ts[0], ts[1]);
}

// struct stat (x86-64) as strace abbreviates it.
void print_stat(Sink& s, uint64_t addr) {
  uint64_t st[18];
  if (!copy_from_user(st, reinterpret_cast<const void*>(addr), sizeof st).ok()) {
    format(s, "{:#x}", addr);
    return;
  }
  uint32_t mode = uint32_t(st[3]);
  uint64_t rdev = st[5];
  int64_t size = int64_t(st[6]);
  static const char* const TYPES[16] = {nullptr,  "S_IFIFO", "S_IFCHR", nullptr,   "S_IFDIR",  nullptr,
                                        "S_IFBLK", nullptr,   "S_IFREG", nullptr,   "S_IFLNK",  nullptr,
                                        "S_IFSOCK", nullptr,  nullptr,   nullptr};
  format(s, "{{st_mode=");
  const char* type = TYPES[(mode >> 12) & 15];
  if (type) format(s, "{}|", type);
  if (mode & 04000) format(s, "S_ISUID|");
  if (mode & 02000) format(s, "S_ISGID|");
  if (mode & 01000) format(s, "S_ISVTX|");
  format(s, "{:#o}", mode & 0777);
  uint32_t kind = mode & 0170000;
  if (kind == 020000 || kind == 060000) {
    uint64_t major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffull);
    uint64_t minor = (rdev & 0xff) | ((rdev >> 12) & ~0xffull);
    format(s, ", st_rdev=makedev(");
    print_hex(s, major);
    format(s, ", ");
    print_hex(s, minor);
    format(s, ")");
  } else {
    format(s, ", st_size={}", size);
  }
  format(s, ", ...}}");
}

// An iovec array: each piece's bytes (up to `budget` bytes in all for the
// output of readv: what the call filled).
void print_iovec(Sink& s, uint64_t addr, uint64_t count, uint64_t budget) {
  if (!addr) {
    format(s, "NULL");
    return;
  }
  s.put('[');
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t iov[2];
    if (!copy_from_user(iov, reinterpret_cast<const void*>(addr + i * 16), sizeof iov).ok()) {
      format(s, "{}{:#x}", i ? ", " : "", addr + i * 16);
      break;
    }
    if (i) format(s, ", ");
    if (i == 32) {
      format(s, "...");
      break;
    }
    uint64_t shown = iov[1] < budget ? iov[1] : budget;
    format(s, "{{iov_base=");
    print_buffer(s, iov[0], shown);
    format(s, ", iov_len={}}}", iov[1]);
    budget -= shown;
  }
  s.put(']');
}

constexpr FlagName FAMILIES[] = {
    {0, "AF_UNSPEC"}, {1, "AF_UNIX"}, {2, "AF_INET"}, {10, "AF_INET6"}, {16, "AF_NETLINK"}, {17, "AF_PACKET"},
};

void print_sockaddr(Sink& s, uint64_t addr, uint64_t len) {
  uint8_t sa[128] = {};
  if (!addr) {
    format(s, "NULL");
    return;
  }
  size_t n = len < sizeof(sa) ? size_t(len) : sizeof(sa);
  if (len < 2 || !copy_from_user(sa, reinterpret_cast<const void*>(addr), n).ok()) {
    format(s, "{:#x}", addr);
    return;
  }
  uint16_t family = uint16_t(sa[0] | sa[1] << 8);
  format(s, "{{sa_family=");
  print_enum(s, family, FAMILIES);
  if (family == 2 && n >= 8) {
    format(s, ", sin_port=htons({}), sin_addr=inet_addr(\"{}.{}.{}.{}\")}}", uint32_t(sa[2]) << 8 | sa[3], sa[4],
           sa[5], sa[6], sa[7]);
    return;
  }
  if (family == 1) {
    size_t plen = 0;
    while (2 + plen < n && sa[2 + plen]) ++plen;
    format(s, ", sun_path=");
    if (plen == 0 && n > 3) {
      // An abstract name: a NUL, then the name.
      format(s, "@");
      print_quoted(s, sa + 3, n - 3, false, false);
    } else {
      print_quoted(s, sa + 2, plen, false, false);
    }
    s.put('}');
    return;
  }
  format(s, ", sa_data=");
  print_quoted(s, sa + 2, n > 2 ? n - 2 : 0, false, false);
  s.put('}');
}

constexpr FlagName SOCK_TYPES[] = {{1, "SOCK_STREAM"}, {2, "SOCK_DGRAM"}, {3, "SOCK_RAW"}, {5, "SOCK_SEQPACKET"}};
constexpr FlagName SOCK_FLAGS[] = {{04000, "SOCK_NONBLOCK"}, {02000000, "SOCK_CLOEXEC"}};
constexpr FlagName PROTOCOLS[] = {{0, "IPPROTO_IP"}, {1, "IPPROTO_ICMP"}, {6, "IPPROTO_TCP"}, {17, "IPPROTO_UDP"}};

constexpr FlagName ARCH_PRCTL[] = {
    {0x1001, "ARCH_SET_GS"}, {0x1002, "ARCH_SET_FS"}, {0x1003, "ARCH_GET_FS"}, {0x1004, "ARCH_GET_GS"},
    {0x1011, "ARCH_GET_CPUID"}, {0x1012, "ARCH_SET_CPUID"},
};

constexpr FlagName FADV[] = {
    {0, "POSIX_FADV_NORMAL"}, {1, "POSIX_FADV_RANDOM"}, {2, "POSIX_FADV_SEQUENTIAL"},
    {3, "POSIX_FADV_WILLNEED"}, {4, "POSIX_FADV_DONTNEED"}, {5, "POSIX_FADV_NOREUSE"},
};

constexpr FlagName GRND_FLAGS[] = {{1, "GRND_NONBLOCK"}, {2, "GRND_RANDOM"}, {4, "GRND_INSECURE"}};

// argv: ["a", "b"]; envp: its address and how many.
void print_string_array(Sink& s, uint64_t addr, bool env) {
  if (!addr) {
    format(s, "NULL");
    return;
  }
  uint64_t n = 0;
  for (;; ++n) {
    uint64_t p;
    if (!copy_from_user(&p, reinterpret_cast<const void*>(addr + n * 8), 8).ok()) {
      format(s, "{:#x}", addr);
      return;
    }
    if (!p || n == 4096) break;
  }
  if (env) {
    format(s, "{:#x} /* {} var{} */", addr, n, n == 1 ? "" : "s");
    return;
  }
  s.put('[');
  for (uint64_t i = 0; i < n; ++i) {
    if (i == 32) {
      format(s, ", ...");
      break;
    }
    uint64_t p = 0;
    (void)copy_from_user(&p, reinterpret_cast<const void*>(addr + i * 8), 8);
    if (i) format(s, ", ");
    print_string(s, p, STRING_MAX);
  }
  s.put(']');
}

bool failed(int64_t r) { return r < 0 && r > -4096; }

// One argument of kind k: raw its register, next the following one, r the
// result (for output arguments).
void print_one(Sink& s, char k, const SyscallArgs& a, size_t i, int64_t r) {
  uint64_t v = a.a[i];
  uint64_t next = i + 1 < 6 ? a.a[i + 1] : 0;
  switch (k) {
    case 'd': format(s, "{}", int64_t(int32_t(v))); break;
    case 'l': format(s, "{}", int64_t(v)); break;
    case 'u': format(s, "{}", v); break;
    case 'x': print_hex(s, v); break;
    case 'p': print_ptr(s, v); break;
    case 'f': format(s, "{}", int32_t(v)); break;
    case 'a':
      if (int32_t(v) == -100) format(s, "AT_FDCWD");
      else format(s, "{}", int32_t(v));
      break;
    case 's': print_path(s, v); break;
    case 'b': print_buffer(s, v, next); break;
    case 'm': format(s, "{:#o}", uint32_t(v)); break;
    case 'o': print_open_flags(s, v); break;
    case 'C': format(s, "{:#o}", uint32_t(v)); break;
    case 'e': print_flags(s, v & 0xffffffffu, OPEN_FLAGS); break;
    case 'P': print_flags(s, v & 0xffffffffu, PROT_FLAGS, "PROT_NONE"); break;
    case 'M': print_map_flags(s, v); break;
    case 'w': print_enum(s, int32_t(v), WHENCE); break;
    case 'F': print_flags(s, v & 0xffffffffu, AT_FLAGS); break;
    case 'k': print_flags(s, v & 0xffffffffu, ACCESS_MODE, "F_OK"); break;
    case 'c': print_enum(s, int32_t(v), CLOCKS); break;
    case 't': print_timespec(s, v); break;
    case 'g': print_signal(s, int32_t(v)); break;
    case 'h': print_enum(s, int32_t(v), HOW); break;
    case 'q': print_sigset(s, v); break;
    case 'A': print_sigaction(s, v); break;
    case 'v': print_iovec(s, v, next, ~0ull); break;
    case 'n': print_sockaddr(s, v, next); break;
    case 'D': print_enum(s, int32_t(v), FAMILIES); break;
    case 'y': {
      uint64_t t = v & 0xf;
      print_enum(s, int64_t(t), SOCK_TYPES);
      if (v & ~0xfull & 0xffffffffu) {
        s.put('|');
        print_flags(s, v & ~0xfull & 0xffffffffu, SOCK_FLAGS);
      }
      break;
    }
    case 'j': {
      int32_t family = int32_t(a.a[0]);
      if (family == 2 || family == 10) print_enum(s, int32_t(v), PROTOCOLS);
      else format(s, "{}", int32_t(v));
      break;
    }
    case 'r': print_string_array(s, v, false); break;
    case 'E': print_string_array(s, v, true); break;
    case 'R': print_enum(s, int32_t(v), ARCH_PRCTL); break;
    case 'z': print_enum(s, int32_t(v), FADV); break;
    case 'G': print_flags(s, v & 0xffffffffu, GRND_FLAGS); break;
    // Output: the address when the call failed.
    case 'B':
    case 'H':
    case 'Y':
      if (failed(r) || !v) print_ptr(s, v);
      else if (k == 'Y') print_string(s, v, PATH_SHOWN);
      else print_buffer(s, v, uint64_t(r), k == 'H');
      break;
    case 'S':
      if (failed(r)) print_ptr(s, v);
      else print_stat(s, v);
      break;
    case 'T':
      if (failed(r)) print_ptr(s, v);
      else print_timespec(s, v);
      break;
    case 'Q':
      if (failed(r)) print_ptr(s, v);
      else print_sigset(s, v);
      break;
    case 'Z':
      if (failed(r)) print_ptr(s, v);
      else print_sigaction(s, v);
      break;
    case 'V':
      if (failed(r)) print_ptr(s, v);
      else print_iovec(s, v, next, uint64_t(r));
      break;
    case 'I': {
      int32_t fds[2];
      if (failed(r) || !copy_from_user(fds, reinterpret_cast<const void*>(v), sizeof fds).ok()) print_ptr(s, v);
      else format(s, "[{}, {}]", fds[0], fds[1]);
      break;
    }
    default: print_hex(s, v); break;
  }
}

}  // namespace

void args_init() {
  for (const Spec& sp : SPECS) {
    for (uint32_t nr = 0; nr < TABLE_SIZE; ++nr) {
      const char* n = syscall_name(nr);
      if (n && StringView(n) == StringView(sp.name)) {
        g_spec[nr] = sp.args;
        break;
      }
    }
  }
}

void print_sigmask(Sink& s, uint64_t mask) { print_sigset_value(s, mask); }

void print_signal(Sink& s, int sig) {
  if (sig > 0 && sig < 32) format(s, "{}", SIGNALS[sig]);
  else if (sig == 32) format(s, "SIGRTMIN");
  else if (sig > 32 && sig <= 64) format(s, "SIGRT_{}", sig - 32);
  else format(s, "{}", sig);
}

bool never_returns(uint32_t nr) {
  const char* n = syscall_name(nr);
  return n && (StringView(n) == "exit" || StringView(n) == "exit_group");
}

void print_args(Sink& s, uint32_t nr, const SyscallDef* d, const SyscallArgs& a, int64_t r, Part part) {
  const char* spec = nr < TABLE_SIZE ? g_spec[nr] : nullptr;
  if (!spec) {
    // From the typed definition: every argument is an input.
    if (d && part != Part::Exit) d->print_args(s, a);
    return;
  }
  bool out = false, first = true;
  for (size_t i = 0; spec[i] && i < 6; ++i) {
    char k = spec[i];
    if (is_output(k)) out = true;
    bool want = part == Part::All || (part == Part::Entry) != out;
    if (!want) continue;
    // The mode of open/openat only with O_CREAT or O_TMPFILE.
    if (k == 'C' && !(a.a[i - 1] & 0100) && (a.a[i - 1] & 020200000) != 020200000) continue;
    if (!first) format(s, ", ");
    first = false;
    print_one(s, k, a, i, r);
  }
  // The entry part ends with the separator before the first output.
  if (part == Part::Entry && out) format(s, ", ");
}

void print_result(Sink& s, uint32_t nr, const SyscallDef* d, int64_t r) {
  if (failed(r)) {
    const char* name = errno_name(-r);
    if (!name) {
      format(s, " = -1 E{} (Unknown error {})", -r, -r);
      return;
    }
    if (-r >= 512) format(s, " = ? {} ({})", name, errno_text(-r));
    else format(s, " = -1 {} ({})", name, errno_text(-r));
    return;
  }
  const char* spec = nr < TABLE_SIZE ? g_spec[nr] : nullptr;
  bool hex = d && d->hex_result;
  if (spec && (StringView(syscall_name(nr)) == "brk" || StringView(syscall_name(nr)) == "mmap")) hex = true;
  if (hex) format(s, " = {:#x}", uint64_t(r));
  else format(s, " = {}", r);
}

}  // namespace capsule::linux_abi::strace
