// Capabilities (capabilities(7)): capget, capset, the prctl calls on the
// bounding and ambient sets and the securebits, the sets' changes on
// setuid and execve, and current_capable() for the checks Linux makes
// with capable(). docs/syscalls.md "Identity and capabilities".
//
// The sets live in the process's Creds (linux/process_state.h: Caps),
// under Creds::lock. Linux keeps them per thread; programs change them
// process-wide (libcap's cap_set_proc is per thread, but every thread of a
// dropped-privilege program drops alike), so one set per process.
#include "linux/exec_state.h"
#include "linux/identity.h"
#include "linux/process_state.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {
namespace {

constexpr uint32_t VERSION_1 = 0x19980330;  // one 32-bit word per set
constexpr uint32_t VERSION_2 = 0x20071026;  // deprecated, same layout as 3
constexpr uint32_t VERSION_3 = 0x20080522;  // two words per set

// securebits (linux/securebits.h): each with its _LOCKED bit above it.
constexpr uint32_t SECBIT_NOROOT = 1u << 0;
constexpr uint32_t SECBIT_NO_SETUID_FIXUP = 1u << 2;
constexpr uint32_t SECBIT_KEEP_CAPS = 1u << 4;
constexpr uint32_t SECBIT_NO_CAP_AMBIENT_RAISE = 1u << 6;
constexpr uint32_t SECURE_ALL_BITS = 0x55, SECURE_ALL_LOCKS = SECURE_ALL_BITS << 1;

// The file-system capabilities that follow the fs uid (CAP_FS_MASK).
constexpr uint64_t FS_MASK = (1ull << L_CAP_CHOWN) | (1ull << L_CAP_DAC_OVERRIDE) | (1ull << L_CAP_DAC_READ_SEARCH) |
                             (1ull << L_CAP_FOWNER) | (1ull << L_CAP_FSETID) | (1ull << L_CAP_LINUX_IMMUTABLE) |
                             (1ull << L_CAP_MKNOD) | (1ull << L_CAP_MAC_OVERRIDE);

struct CapHeader {
  uint32_t version;
  int32_t pid;
};
struct CapData {
  uint32_t effective, permitted, inheritable;
};

// The words a version carries; 0 for an unknown version.
int words_of(uint32_t version) {
  if (version == VERSION_1) return 1;
  if (version == VERSION_2 || version == VERSION_3) return 2;
  return 0;
}

bool is_self(int32_t pid) {
  Process* p = current_process();
  return pid == 0 || (p && pid == p->pid) || pid == current_tid();
}

// The header's version, checked: an unknown one is answered with the
// version the kernel prefers written back, and EINVAL.
Result<int> check_header(UserPtr<CapHeader> uh, CapHeader& h) {
  h = TRY(uh.read());
  int words = words_of(h.version);
  if (!words) {
    TRY(uh.write(CapHeader{VERSION_3, h.pid}));
    return Error::Invalid;
  }
  return words;
}

}  // namespace

bool current_capable(int cap) {
  Process* p = current_process();
  if (!p || cap < 0 || cap > L_CAP_LAST_CAP) return !p;  // kernel threads: everything
  Creds& c = *p->creds;
  SpinGuard g(c.lock);
  return c.caps.eff >> cap & 1;
}

// capget(2): the three sets of the caller (pid 0, its pid or its tid).
// data may be NULL to ask which version the kernel prefers: then even an
// unknown version succeeds (with the preferred one written back).
DEFINE_SYSCALL(125, capget, Result<void>, UserPtr<CapHeader> header, UserPtr<CapData> data) {
  CapHeader h;
  auto words_or = check_header(header, h);
  if (!data && (words_or.ok() || words_or.error() == Error::Invalid)) return {};
  int words = TRY(words_or);
  if (h.pid < 0) return Error::Invalid;
  if (!is_self(h.pid)) return Error::NoProcess;
  Caps c;
  {
    Creds& cr = cur_creds();
    SpinGuard g(cr.lock);
    c = cr.caps;
  }
  CapData out[2];
  for (int i = 0; i < 2; ++i)
    out[i] = CapData{uint32_t(c.eff >> (32 * i)), uint32_t(c.prm >> (32 * i)), uint32_t(c.inh >> (32 * i))};
  return data.copy_out(out, size_t(words));
}

// capset(2): only the caller's own sets, within Linux's rules: permitted
// may only shrink, effective stays within the new permitted, inheritable
// within the old inheritable and the bounding set, and (without
// CAP_SETPCAP) within the old inheritable and permitted. The ambient set
// keeps only what is still both permitted and inheritable.
DEFINE_SYSCALL(126, capset, Result<void>, UserPtr<CapHeader> header, UserPtr<const CapData> data) {
  CapHeader h;
  int words = TRY(check_header(header, h));
  if (!is_self(h.pid)) return Error::Permission;
  CapData in[2] = {};
  TRY(data.copy_in(in, size_t(words)));
  uint64_t eff = 0, prm = 0, inh = 0;
  for (int i = 0; i < words; ++i) {
    eff |= uint64_t(in[i].effective) << (32 * i);
    prm |= uint64_t(in[i].permitted) << (32 * i);
    inh |= uint64_t(in[i].inheritable) << (32 * i);
  }
  Creds& cr = cur_creds();
  SpinGuard g(cr.lock);
  Caps& c = cr.caps;
  if (words == 1) {  // a version-1 caller cannot see the upper word: it keeps its value
    eff |= c.eff & ~0xffffffffull;
    prm |= c.prm & ~0xffffffffull;
    inh |= c.inh & ~0xffffffffull;
  }
  eff &= L_CAP_FULL_SET, prm &= L_CAP_FULL_SET, inh &= L_CAP_FULL_SET;
  const bool setpcap = c.eff >> L_CAP_SETPCAP & 1;
  if (inh & ~(c.inh | (setpcap ? c.bnd : c.prm))) return Error::Permission;
  if (inh & ~(c.inh | c.bnd)) return Error::Permission;
  if (prm & ~c.prm) return Error::Permission;
  if (eff & ~prm) return Error::Permission;
  c.eff = eff, c.prm = prm, c.inh = inh;
  c.amb &= prm & inh;
  return {};
}

void caps_after_setuid(Creds& c, uint32_t old_ruid, uint32_t old_euid, uint32_t old_suid, uint32_t old_fsuid) {
  c.lock.assert_held();
  Caps& k = c.caps;
  if (k.securebits & SECBIT_NO_SETUID_FIXUP) return;
  // Leaving uid 0 in all three ids drops every capability, unless the
  // program asked to keep them (PR_SET_KEEPCAPS) — then effective only.
  const bool was_root = old_ruid == 0 || old_euid == 0 || old_suid == 0;
  if (was_root && c.ruid != 0 && c.euid != 0 && c.suid != 0) {
    if (!(k.securebits & SECBIT_KEEP_CAPS)) k.prm = 0;
    k.eff = 0;
    k.amb = 0;
  }
  if (old_euid == 0 && c.euid != 0) k.eff = 0;
  if (old_euid != 0 && c.euid == 0) k.eff = k.prm;
  // The file-system capabilities follow the fs uid.
  if (old_fsuid == 0 && c.fsuid != 0) k.eff &= ~FS_MASK;
  if (old_fsuid != 0 && c.fsuid == 0) k.eff |= k.prm & FS_MASK;
}

void caps_exec_reset() {
  Creds& c = cur_creds();
  SpinGuard g(c.lock);
  Caps& k = c.caps;
  // A file without capabilities or set-id bits: root gets the bounding set
  // (and what it had inheritable), effective when its effective uid is 0;
  // anyone else keeps only the ambient set.
  if (!(k.securebits & SECBIT_NOROOT) && (c.euid == 0 || c.ruid == 0)) {
    k.prm = (k.bnd | k.inh | k.amb) & L_CAP_FULL_SET;
    k.eff = c.euid == 0 ? k.prm : k.amb;
  } else {
    k.prm = k.amb;
    k.eff = k.amb;
  }
  k.securebits &= ~SECBIT_KEEP_CAPS;  // cleared by execve
}

CapsView caps_of(Process& p) {
  Creds& c = *p.creds;
  SpinGuard g(c.lock);
  return CapsView{c.caps.inh, c.caps.prm, c.caps.eff, c.caps.bnd, c.caps.amb};
}

Result<int64_t> caps_prctl(int option, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
  enum : int {
    PR_GET_KEEPCAPS = 7, PR_SET_KEEPCAPS = 8, PR_CAPBSET_READ = 23, PR_CAPBSET_DROP = 24,
    PR_GET_SECUREBITS = 27, PR_SET_SECUREBITS = 28, PR_CAP_AMBIENT = 47,
  };
  enum : uint64_t { AMBIENT_IS_SET = 1, AMBIENT_RAISE = 2, AMBIENT_LOWER = 3, AMBIENT_CLEAR_ALL = 4 };
  Creds& cr = cur_creds();
  SpinGuard g(cr.lock);
  Caps& c = cr.caps;
  const bool setpcap = c.eff >> L_CAP_SETPCAP & 1;
  switch (option) {
    case PR_GET_KEEPCAPS:
      return (c.securebits & SECBIT_KEEP_CAPS) ? 1 : 0;
    case PR_SET_KEEPCAPS:
      // cap_task_prctl: arg2 0 or 1; the others are not looked at.
      if (a2 > 1) return Error::Invalid;
      if (c.securebits & (SECBIT_KEEP_CAPS << 1)) return Error::Permission;
      c.securebits = a2 ? c.securebits | SECBIT_KEEP_CAPS : c.securebits & ~SECBIT_KEEP_CAPS;
      return 0;
    case PR_CAPBSET_READ:
      if (a2 > uint64_t(L_CAP_LAST_CAP)) return Error::Invalid;
      return int64_t(c.bnd >> a2 & 1);
    case PR_CAPBSET_DROP:
      if (a2 > uint64_t(L_CAP_LAST_CAP)) return Error::Invalid;
      if (!setpcap) return Error::Permission;
      c.bnd &= ~(1ull << a2);
      return 0;
    case PR_GET_SECUREBITS:
      return c.securebits;
    case PR_SET_SECUREBITS: {
      if (a2 & ~uint64_t(SECURE_ALL_BITS | SECURE_ALL_LOCKS)) return Error::Invalid;
      uint32_t bits = uint32_t(a2);
      // A locked bit cannot change, and a lock cannot be undone.
      uint32_t locks = c.securebits & SECURE_ALL_LOCKS;
      if (((c.securebits ^ bits) & (locks >> 1)) || (locks & ~bits)) return Error::Permission;
      if (!setpcap) return Error::Permission;
      c.securebits = bits;
      return 0;
    }
    case PR_CAP_AMBIENT:
      if (a2 == AMBIENT_CLEAR_ALL) {
        if (a3 || a4 || a5) return Error::Invalid;
        c.amb = 0;
        return 0;
      }
      if (a3 > uint64_t(L_CAP_LAST_CAP) || a4 || a5) return Error::Invalid;
      switch (a2) {
        case AMBIENT_IS_SET:
          return int64_t(c.amb >> a3 & 1);
        case AMBIENT_RAISE:
          if (!(c.prm >> a3 & 1) || !(c.inh >> a3 & 1) || (c.securebits & SECBIT_NO_CAP_AMBIENT_RAISE))
            return Error::Permission;
          c.amb |= 1ull << a3;
          return 0;
        case AMBIENT_LOWER:
          c.amb &= ~(1ull << a3);
          return 0;
        default:
          return Error::Invalid;
      }
    default:
      return Error::Invalid;
  }
}

}  // namespace capsule::linux_abi
