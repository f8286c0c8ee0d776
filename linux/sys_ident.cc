// Identity: uname (Linux 6.1, so that libcs and programs that check the
// kernel version are content), sethostname/setdomainname, the uid/gid
// family, supplementary groups, process groups and sessions, umask,
// personality. docs/syscalls.md.
//
// The credentials are the calling process's (linux/process_state.h: Creds);
// the host and domain names are the machine's (one UTS namespace). A process
// starts as root (all ids 0); "privileged" means effective uid 0, which
// stands for the capabilities Linux gives root (CAP_SETUID, CAP_SETGID,
// CAP_SYS_ADMIN, CAP_SYS_RESOURCE). A program that drops to another uid
// gets Linux's unprivileged rules.
#include "core/mm.h"
#include "linux/process.h"
#include "arch/uaccess.h"
#include "arch/spinlock.h"
#include "linux/identity.h"
#include "linux/process_state.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {
namespace {

struct Utsname {  // struct new_utsname: six 65-byte fields
  char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};

void set(char* dst, const char* src) {
  size_t i = 0;
  for (; src[i] && i < 64; ++i) dst[i] = src[i];
  dst[i] = 0;
}

constexpr uint32_t NO_ID = 0xffffffffu;  // (uid_t)-1: "unchanged" / invalid
constexpr int64_t L_NGROUPS_MAX = 65536;

// Machine-wide: the UTS names (Linux keeps them per UTS namespace; the VM
// has one).
struct Uts {
  char hostname[65] = "capsule";
  char domainname[65] = "(none)";
};
SpinLock g_uts_lock;  // over g_uts
Uts g_uts;

int own_pid() { return current_process() ? current_process()->pid : 1; }
bool is_self(int64_t pid) { return pid == 0 || pid == own_pid() || pid == current_tid(); }

// setresuid/setresgid core: -1 leaves an id; an unprivileged caller may only
// pick among its current real, effective and saved ids.
int64_t set_res(Creds& c, uint32_t* rid, uint32_t* eid, uint32_t* sid, uint32_t* fsid, uint32_t r, uint32_t e,
                uint32_t s) {
  SpinGuard g(c.lock);
  auto allowed = [&](uint32_t v) { return v == NO_ID || v == *rid || v == *eid || v == *sid; };
  if (c.euid != 0 && !(allowed(r) && allowed(e) && allowed(s))) return -kEPERM;
  if (r != NO_ID) *rid = r;
  if (e != NO_ID) *eid = e;
  if (s != NO_ID) *sid = s;
  *fsid = *eid;
  return 0;
}

// setreuid/setregid: the saved id follows the new effective id when the
// real id is set or the effective id changes to something but the old real.
int64_t set_re(Creds& c, uint32_t* rid, uint32_t* eid, uint32_t* sid, uint32_t* fsid, uint32_t r, uint32_t e) {
  SpinGuard g(c.lock);
  const bool priv = c.euid == 0;
  const uint32_t old_r = *rid, old_e = *eid, old_s = *sid;
  if (!priv) {
    if (r != NO_ID && r != old_r && r != old_e) return -kEPERM;
    if (e != NO_ID && e != old_r && e != old_e && e != old_s) return -kEPERM;
  }
  if (r != NO_ID) *rid = r;
  if (e != NO_ID) *eid = e;
  if (r != NO_ID || (e != NO_ID && e != old_r)) *sid = *eid;
  *fsid = *eid;
  return 0;
}

// setuid/setgid: privileged sets all three; otherwise only the effective id,
// to the real or saved one.
int64_t set_one(Creds& c, uint32_t* rid, uint32_t* eid, uint32_t* sid, uint32_t* fsid, uint32_t v) {
  if (v == NO_ID) return -kEINVAL;
  SpinGuard g(c.lock);
  if (c.euid == 0) {
    *rid = *eid = *sid = *fsid = v;
    return 0;
  }
  if (v != *rid && v != *sid) return -kEPERM;
  *eid = *fsid = v;
  return 0;
}

int64_t set_fs(Creds& c, uint32_t* rid, uint32_t* eid, uint32_t* sid, uint32_t* fsid, uint32_t v) {
  SpinGuard g(c.lock);
  const uint32_t old = *fsid;
  if (v != NO_ID && (c.euid == 0 || v == *rid || v == *eid || v == *sid || v == *fsid)) *fsid = v;
  return old;
}

int64_t get_res(uint32_t r, uint32_t e, uint32_t s, uint64_t pr, uint64_t pe, uint64_t ps) {
  if (!put_user_at(pr, r) || !put_user_at(pe, e) || !put_user_at(ps, s)) return -kEFAULT;
  return 0;
}

int64_t set_name(char* dst, uint64_t user, int64_t len) {
  if (len < 0 || len > 64) return -kEINVAL;
  char buf[65] = {};
  if (!copy_from_user(buf, reinterpret_cast<const void*>(user), size_t(len)).ok()) return -kEFAULT;
  if (!current_privileged()) return -kEPERM;
  SpinGuard g(g_uts_lock);
  for (int64_t i = 0; i <= len; ++i) dst[i] = buf[i];
  return 0;
}

}  // namespace

void hostname(char* out) {
  SpinGuard g(g_uts_lock);
  set(out, g_uts.hostname);
}

int64_t set_hostname(const char* name, size_t len) {
  if (len > 64) return -kEINVAL;
  if (!current_privileged()) return -kEPERM;
  SpinGuard g(g_uts_lock);
  for (size_t i = 0; i < len; ++i) g_uts.hostname[i] = name[i];
  g_uts.hostname[len] = 0;
  return 0;
}

// Kernel threads (no process) act as root with Linux's default umask.
namespace {
const Creds* creds_or_kernel() {
  static const Creds kernel;
  Process* p = current_process();
  return p ? p->creds : &kernel;
}
}  // namespace

uint32_t current_umask() { return creds_or_kernel()->umask; }
uint32_t current_fsuid() { return creds_or_kernel()->fsuid; }
uint32_t current_fsgid() { return creds_or_kernel()->fsgid; }
uint32_t current_euid() { return creds_or_kernel()->euid; }
bool current_privileged() { return creds_or_kernel()->euid == 0; }

LINUX_SYSCALL(63, uname, "p") {
  Utsname u = {};
  set(u.sysname, "Linux");
  set(u.release, "6.1.0-capsule");
  set(u.version, "#1 SMP Capsule 0.1");
  set(u.machine, "x86_64");
  {
    SpinGuard g(g_uts_lock);
    set(u.nodename, g_uts.hostname);
    set(u.domainname, g_uts.domainname);
  }
  return copy_to_user(reinterpret_cast<void*>(args.a[0]), &u, sizeof(u)).ok() ? 0 : -kEFAULT;
}

LINUX_SYSCALL(170, sethostname, "bd") { return set_name(g_uts.hostname, args.a[0], int32_t(args.a[1])); }
LINUX_SYSCALL(171, setdomainname, "bd") { return set_name(g_uts.domainname, args.a[0], int32_t(args.a[1])); }

LINUX_SYSCALL(102, getuid, "") { return cur_creds().ruid; }
LINUX_SYSCALL(107, geteuid, "") { return cur_creds().euid; }
LINUX_SYSCALL(104, getgid, "") { return cur_creds().rgid; }
LINUX_SYSCALL(108, getegid, "") { return cur_creds().egid; }

LINUX_SYSCALL(105, setuid, "u") {
  Creds& c = cur_creds();
  return set_one(c, &c.ruid, &c.euid, &c.suid, &c.fsuid, uint32_t(args.a[0]));
}
LINUX_SYSCALL(106, setgid, "u") {
  Creds& c = cur_creds();
  return set_one(c, &c.rgid, &c.egid, &c.sgid, &c.fsgid, uint32_t(args.a[0]));
}
LINUX_SYSCALL(113, setreuid, "dd") {
  Creds& c = cur_creds();
  return set_re(c, &c.ruid, &c.euid, &c.suid, &c.fsuid, uint32_t(args.a[0]), uint32_t(args.a[1]));
}
LINUX_SYSCALL(114, setregid, "dd") {
  Creds& c = cur_creds();
  return set_re(c, &c.rgid, &c.egid, &c.sgid, &c.fsgid, uint32_t(args.a[0]), uint32_t(args.a[1]));
}
LINUX_SYSCALL(117, setresuid, "ddd") {
  Creds& c = cur_creds();
  return set_res(c, &c.ruid, &c.euid, &c.suid, &c.fsuid, uint32_t(args.a[0]), uint32_t(args.a[1]), uint32_t(args.a[2]));
}
LINUX_SYSCALL(119, setresgid, "ddd") {
  Creds& c = cur_creds();
  return set_res(c, &c.rgid, &c.egid, &c.sgid, &c.fsgid, uint32_t(args.a[0]), uint32_t(args.a[1]), uint32_t(args.a[2]));
}
LINUX_SYSCALL(118, getresuid, "ppp") {
  const Creds& c = cur_creds();
  return get_res(c.ruid, c.euid, c.suid, args.a[0], args.a[1], args.a[2]);
}
LINUX_SYSCALL(120, getresgid, "ppp") {
  const Creds& c = cur_creds();
  return get_res(c.rgid, c.egid, c.sgid, args.a[0], args.a[1], args.a[2]);
}
LINUX_SYSCALL(122, setfsuid, "u") {
  Creds& c = cur_creds();
  return set_fs(c, &c.ruid, &c.euid, &c.suid, &c.fsuid, uint32_t(args.a[0]));
}
LINUX_SYSCALL(123, setfsgid, "u") {
  Creds& c = cur_creds();
  return set_fs(c, &c.rgid, &c.egid, &c.sgid, &c.fsgid, uint32_t(args.a[0]));
}

LINUX_SYSCALL(115, getgroups, "dp") {
  const int64_t size = int32_t(args.a[0]);
  if (size < 0) return -kEINVAL;
  Creds& c = cur_creds();
  // Snapshot under the lock; copy out without it (the copy may fault pages in).
  uint32_t* snap = nullptr;
  int64_t n;
  for (;;) {
    {
      SpinGuard g(c.lock);
      n = c.ngroups;
      if (size == 0) return n;
      if (size < n) return -kEINVAL;
      if (n == 0) return 0;
      if (snap) {
        for (int64_t i = 0; i < n; ++i) snap[i] = c.groups[i];
        break;
      }
    }
    snap = static_cast<uint32_t*>(kmalloc(size_t(L_NGROUPS_MAX) * 4));
    if (!snap) return -kENOMEM;
  }
  const bool ok = copy_to_user(reinterpret_cast<void*>(args.a[1]), snap, size_t(n) * 4).ok();
  kfree(snap);
  return ok ? n : -kEFAULT;
}

LINUX_SYSCALL(116, setgroups, "dp") {
  const int64_t n = int32_t(args.a[0]);
  if (n < 0 || n > L_NGROUPS_MAX) return -kEINVAL;
  uint32_t* list = n ? static_cast<uint32_t*>(kmalloc(size_t(n) * 4)) : nullptr;
  if (n && !list) return -kENOMEM;
  if (n && !copy_from_user(list, reinterpret_cast<const void*>(args.a[1]), size_t(n) * 4).ok()) {
    kfree(list);
    return -kEFAULT;
  }
  Creds& c = cur_creds();
  uint32_t* drop = list;
  bool allowed;
  {
    SpinGuard g(c.lock);
    allowed = c.euid == 0;  // CAP_SETGID
    if (allowed) {
      drop = c.groups;
      c.groups = list;
      c.ngroups = n;
    }
  }
  kfree(drop);
  return allowed ? 0 : -kEPERM;
}

LINUX_SYSCALL(121, getpgid, "d") {
  if (!is_self(int32_t(args.a[0]))) return -kESRCH;
  return cur_creds().pgid;
}
LINUX_SYSCALL(111, getpgrp, "") { return cur_creds().pgid; }
LINUX_SYSCALL(124, getsid, "d") {
  if (!is_self(int32_t(args.a[0]))) return -kESRCH;
  return cur_creds().sid;
}

LINUX_SYSCALL(109, setpgid, "dd") {
  const int64_t pid = int32_t(args.a[0]), pgid = int32_t(args.a[1]);
  if (pgid < 0) return -kEINVAL;
  if (!is_self(pid)) return -kESRCH;
  Creds& c = cur_creds();
  SpinGuard g(c.lock);
  // A session leader cannot change its process group (there is no other
  // process whose group it could join, either).
  if (c.sid == own_pid()) return -kEPERM;
  const int64_t target = pgid ? pgid : own_pid();
  if (target != own_pid() && target != c.pgid) return -kEPERM;
  c.pgid = int(target);
  return 0;
}

LINUX_SYSCALL(112, setsid, "") {
  Creds& c = cur_creds();
  SpinGuard g(c.lock);
  if (c.pgid == own_pid()) return -kEPERM;  // already a process-group leader
  c.sid = c.pgid = own_pid();
  return c.sid;
}

LINUX_SYSCALL(95, umask, "o") {
  Creds& c = cur_creds();
  SpinGuard g(c.lock);
  const uint32_t old = c.umask;
  c.umask = uint32_t(args.a[0]) & 0777;
  return old;
}

// personality(2): 0xffffffff reads the persona; any other value is stored
// and the old one returned, as Linux does. Only PER_LINUX is emulated: the
// flag bits (ADDR_NO_RANDOMIZE, ...) and other domains are remembered but
// change nothing.
LINUX_SYSCALL(135, personality, "x") {
  const uint32_t p = uint32_t(args.a[0]);
  Creds& c = cur_creds();
  SpinGuard g(c.lock);
  const uint64_t old = c.persona;
  if (p != 0xffffffffu) c.persona = p;
  return int64_t(old);
}

}  // namespace capsule::linux_abi
