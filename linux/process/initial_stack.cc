// The initial stack of a new program. Layout facts from the x86-64 psABI
// 3.4.1 (Figure 3.9 "Initial Process Stack") and the order in which Linux's
// execve copies strings and create_elf_tables() fills the tables, so that
// programs that peek past the documented part (at AT_EXECFN, or walking
// from envp to the strings) see what they see on Linux.
#include "linux/process/initial_stack.h"

#include "linux/process/auxv.h"

namespace capsule::elf {
namespace {

// Fills the buffer downward from `top`, checking room for every push.
class DownWriter {
 public:
  DownWriter(uint8_t* buf, size_t size, uint64_t top) : buf_(buf), bottom_(top - size), pos_(top) {}

  uint64_t pos() const { return pos_; }
  size_t room() const { return size_t(pos_ - bottom_); }

  Result<uint64_t> push(const void* data, size_t n) {
    if (room() < n) return Error::TooBig;
    pos_ -= n;
    if (n) __builtin_memcpy(buf_ + (pos_ - bottom_), data, n);
    return pos_;
  }
  Result<uint64_t> push_string(StringView s) {
    if (room() < s.size() + 1) return Error::TooBig;
    pos_ -= 1;
    buf_[pos_ - bottom_] = 0;
    return push(s.data(), s.size());
  }
  Result<void> align_down(uint64_t a) {
    uint64_t p = pos_ & ~(a - 1);
    if (p < bottom_) return Error::TooBig;
    pos_ = p;
    return {};
  }
  // Stores a word at an address already reserved below pos.
  void store(uint64_t vaddr, uint64_t value) { __builtin_memcpy(buf_ + (vaddr - bottom_), &value, 8); }
  Result<void> reserve_to(uint64_t p) {
    if (p < bottom_ || p > pos_) return Error::TooBig;
    pos_ = p;
    return {};
  }

 private:
  uint8_t* buf_;
  uint64_t bottom_;
  uint64_t pos_;
};

bool too_long(StringView s) { return s.size() + 1 > MAX_ARG_STRLEN; }

constexpr size_t MAX_AUX = 24;  // the auxv array below, AT_NULL included

}  // namespace

Result<StackLayout> build_initial_stack(uint8_t* buf, size_t size, uint64_t top, const StackParams& p) {
  if (top & 15) return Error::Invalid;
  if (size > top) return Error::Invalid;
  for (size_t i = 0; i < p.argc; ++i)
    if (too_long(p.argv[i])) return Error::TooBig;
  for (size_t i = 0; i < p.envc; ++i)
    if (too_long(p.envp[i])) return Error::TooBig;
  if (too_long(p.execfn)) return Error::TooBig;

  DownWriter w(buf, size, top);
  StackLayout out;

  // Linux starts at the top word of the stack and leaves it NULL.
  const uint64_t zero = 0;
  TRY(w.push(&zero, sizeof(zero)));
  // execve copies the filename first, then envp, then argv, each list from
  // its last string down: argv[0] ends up lowest.
  out.execfn = TRY(w.push_string(p.execfn));
  for (size_t i = p.envc; i-- > 0;) TRY(w.push_string(p.envp[i]));
  for (size_t i = p.argc; i-- > 0;) TRY(w.push_string(p.argv[i]));
  out.strings_start = w.pos();

  // create_elf_tables(): align, then the platform string, then 16 random bytes.
  TRY(w.align_down(16));
  out.platform = TRY(w.push_string(p.platform));
  out.random = TRY(w.push(p.random, sizeof(p.random)));

  // The auxiliary vector, in Linux's order (ARCH_DLINFO first on x86-64).
  struct AuxPair {
    Aux tag;
    uint64_t value;
  } aux[MAX_AUX];
  size_t n = 0;
  if (p.sysinfo_ehdr) aux[n++] = {Aux::SysinfoEhdr, p.sysinfo_ehdr};
  aux[n++] = {Aux::Minsigstksz, p.minsigstksz};
  aux[n++] = {Aux::Hwcap, p.hwcap};
  aux[n++] = {Aux::Pagesz, p.pagesz};
  aux[n++] = {Aux::Clktck, p.clktck};
  aux[n++] = {Aux::Phdr, p.phdr};
  aux[n++] = {Aux::Phent, p.phent};
  aux[n++] = {Aux::Phnum, p.phnum};
  aux[n++] = {Aux::Base, p.base};
  aux[n++] = {Aux::Flags, p.flags};
  aux[n++] = {Aux::Entry, p.entry};
  aux[n++] = {Aux::Uid, p.uid};
  aux[n++] = {Aux::Euid, p.euid};
  aux[n++] = {Aux::Gid, p.gid};
  aux[n++] = {Aux::Egid, p.egid};
  aux[n++] = {Aux::Secure, p.secure};
  aux[n++] = {Aux::Random, out.random};
  aux[n++] = {Aux::Hwcap2, p.hwcap2};
  aux[n++] = {Aux::Execfn, out.execfn};
  aux[n++] = {Aux::Platform, out.platform};
  aux[n++] = {Aux::Null, 0};

  // argc, argv[] + NULL, envp[] + NULL, auxv pairs; the block starts
  // 16-byte aligned (psABI: rsp is 16-byte aligned at process entry), the
  // slack going between auxv and the random bytes.
  const uint64_t words = 1 + (uint64_t(p.argc) + 1) + (uint64_t(p.envc) + 1) + 2 * uint64_t(n);
  if (words > w.room() / 8) return Error::TooBig;
  const uint64_t sp = (w.pos() - words * 8) & ~uint64_t(15);
  TRY(w.reserve_to(sp));

  uint64_t at = sp;
  w.store(at, p.argc);
  at += 8;
  out.argv = at;
  uint64_t str = out.strings_start;
  for (size_t i = 0; i < p.argc; ++i, at += 8) {
    w.store(at, str);
    str += p.argv[i].size() + 1;
  }
  w.store(at, 0);
  at += 8;
  out.envp = at;
  for (size_t i = 0; i < p.envc; ++i, at += 8) {
    w.store(at, str);
    str += p.envp[i].size() + 1;
  }
  w.store(at, 0);
  at += 8;
  out.auxv = at;
  for (size_t i = 0; i < n; ++i, at += 16) {
    w.store(at, uint64_t(aux[i].tag));
    w.store(at + 8, aux[i].value);
  }
  out.auxv_count = n;
  out.sp = sp;
  out.used = size_t(top - sp);
  return out;
}

size_t initial_stack_bound(const StackParams& p) {
  uint64_t bytes = 8 + p.execfn.size() + 1 + 15 + p.platform.size() + 1 + sizeof(p.random) + 15;
  for (size_t i = 0; i < p.argc; ++i) bytes += p.argv[i].size() + 1;
  for (size_t i = 0; i < p.envc; ++i) bytes += p.envp[i].size() + 1;
  bytes += 8 * (1 + (uint64_t(p.argc) + 1) + (uint64_t(p.envc) + 1) + 2 * uint64_t(MAX_AUX));
  return size_t(bytes);
}

}  // namespace capsule::elf
