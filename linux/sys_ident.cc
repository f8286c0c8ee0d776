// Identity: uname (Linux 6.1, so that libcs and programs that check the
// kernel version are content), sethostname/setdomainname, the uid/gid
// family, supplementary groups, process groups and sessions, umask,
// personality. docs/syscalls.md.
//
// The credentials are the calling process's (linux/process_state.h: Creds);
// the host and domain names are the machine's (one UTS namespace). A process
// starts as root (all ids 0, every capability). Changing ids needs
// CAP_SETUID or CAP_SETGID; a uid change adjusts the capability sets as
// Linux does (linux/sys_capability.cc), so a program that drops to another
// uid loses them and gets Linux's unprivileged rules.
#include "core/mm.h"
#include "linux/process.h"
#include "arch/uaccess.h"
#include "arch/spinlock.h"
#include "fs/vfs/permission.h"
#include "linux/identity.h"
#include "linux/process_state.h"
#include "linux/syscall.h"
#include "linux/fork_state.h"
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
// The uid functions pass CAP_SETUID (and fix the capability sets after),
// the gid ones CAP_SETGID.
bool holds(const Creds& c, int cap) { return c.caps.eff >> cap & 1; }

// After a change under c.lock: the capability fixups for uids.
struct IdChange {
  Creds& c;
  int cap;
  uint32_t r, e, s, fs;
  explicit IdChange(Creds& cr, int capability)
      : c(cr), cap(capability), r(cr.ruid), e(cr.euid), s(cr.suid), fs(cr.fsuid) {}
  void done() {
    if (cap == L_CAP_SETUID) caps_after_setuid(c, r, e, s, fs);
  }
};

Result<void> set_res(Creds& c, int cap, uint32_t* rid, uint32_t* eid, uint32_t* sid, uint32_t* fsid, uint32_t r,
                     uint32_t e, uint32_t s) {
  SpinGuard g(c.lock);
  auto allowed = [&](uint32_t v) { return v == NO_ID || v == *rid || v == *eid || v == *sid; };
  if (!holds(c, cap) && !(allowed(r) && allowed(e) && allowed(s))) return Error::Permission;
  IdChange change(c, cap);
  if (r != NO_ID) *rid = r;
  if (e != NO_ID) *eid = e;
  if (s != NO_ID) *sid = s;
  *fsid = *eid;
  change.done();
  return {};
}

// setreuid/setregid: the saved id follows the new effective id when the
// real id is set or the effective id changes to something but the old real.
Result<void> set_re(Creds& c, int cap, uint32_t* rid, uint32_t* eid, uint32_t* sid, uint32_t* fsid, uint32_t r,
                    uint32_t e) {
  SpinGuard g(c.lock);
  const bool priv = holds(c, cap);
  const uint32_t old_r = *rid, old_e = *eid, old_s = *sid;
  if (!priv) {
    if (r != NO_ID && r != old_r && r != old_e) return Error::Permission;
    if (e != NO_ID && e != old_r && e != old_e && e != old_s) return Error::Permission;
  }
  IdChange change(c, cap);
  if (r != NO_ID) *rid = r;
  if (e != NO_ID) *eid = e;
  if (r != NO_ID || (e != NO_ID && e != old_r)) *sid = *eid;
  *fsid = *eid;
  change.done();
  return {};
}

// setuid/setgid: privileged sets all three; otherwise only the effective id,
// to the real or saved one.
Result<void> set_one(Creds& c, int cap, uint32_t* rid, uint32_t* eid, uint32_t* sid, uint32_t* fsid, uint32_t v) {
  if (v == NO_ID) return Error::Invalid;
  SpinGuard g(c.lock);
  IdChange change(c, cap);
  if (holds(c, cap)) {
    *rid = *eid = *sid = *fsid = v;
  } else {
    if (v != *rid && v != *sid) return Error::Permission;
    *eid = *fsid = v;
  }
  change.done();
  return {};
}

// setfsuid/setfsgid: the old fs id, whether or not the new one was taken.
Result<uint32_t> set_fs(Creds& c, int cap, uint32_t* rid, uint32_t* eid, uint32_t* sid, uint32_t* fsid, uint32_t v) {
  SpinGuard g(c.lock);
  const uint32_t old = *fsid;
  IdChange change(c, cap);
  if (v != NO_ID && (holds(c, cap) || v == *rid || v == *eid || v == *sid || v == *fsid)) *fsid = v;
  change.done();
  return old;
}

Result<void> get_res(uint32_t r, uint32_t e, uint32_t s, UserPtr<uint32_t> pr, UserPtr<uint32_t> pe,
                     UserPtr<uint32_t> ps) {
  TRY(pr.write(r));
  TRY(pe.write(e));
  return ps.write(s);
}

Result<void> set_name(char* dst, UserBytes user, int len) {
  if (len < 0 || len > 64) return Error::Invalid;
  char buf[65] = {};
  TRY(user.ptr.copy_in(reinterpret_cast<uint8_t*>(buf), size_t(len)));
  if (!current_capable(L_CAP_SYS_ADMIN)) return Error::Permission;
  SpinGuard g(g_uts_lock);
  for (int i = 0; i <= len; ++i) dst[i] = buf[i];
  return {};
}

}  // namespace

void hostname(char* out) {
  SpinGuard g(g_uts_lock);
  set(out, g_uts.hostname);
}

namespace {
Result<void> set_kernel_name(char* dst, const char* name, size_t len) {
  if (len > 64) return Error::Invalid;
  if (!current_capable(L_CAP_SYS_ADMIN)) return Error::Permission;
  SpinGuard g(g_uts_lock);
  for (size_t i = 0; i < len; ++i) dst[i] = name[i];
  dst[len] = 0;
  return {};
}
}  // namespace

Result<void> set_hostname(const char* name, size_t len) { return set_kernel_name(g_uts.hostname, name, len); }

void domainname(char* out) {
  SpinGuard g(g_uts_lock);
  set(out, g_uts.domainname);
}

Result<void> set_domainname(const char* name, size_t len) { return set_kernel_name(g_uts.domainname, name, len); }

// Kernel threads (no process) act as root with Linux's default umask.
namespace {
const Creds* creds_or_kernel() {
  static const Creds kernel;
  Process* p = current_process();
  return p ? p->creds : &kernel;
}
}  // namespace

namespace {
// Cred::in_groups for a process: its supplementary groups, read under the
// lock (setgroups may replace them meanwhile).
bool process_in_groups(const void* owner, uint32_t gid) {
  Creds& c = *static_cast<const Process*>(owner)->creds;
  SpinGuard g(c.lock);
  for (int64_t i = 0; i < c.ngroups; ++i)
    if (c.groups[i] == gid) return true;
  return false;
}
}  // namespace

bool current_cred(vfs::Cred& out, bool real) {
  Process* p = current_process();
  if (!p) return false;
  Creds& c = *p->creds;
  uint64_t eff;
  {
    SpinGuard g(c.lock);
    out.uid = real ? c.ruid : c.fsuid;
    out.gid = real ? c.rgid : c.fsgid;
    // access(2) checks as the real user: a real root keeps its permitted
    // set, anyone else has no capability (Linux's access_override_creds).
    eff = !real ? c.caps.eff : c.ruid == 0 ? c.caps.prm : 0;
  }
  out.dac_override = eff >> L_CAP_DAC_OVERRIDE & 1;
  out.dac_read_search = eff >> L_CAP_DAC_READ_SEARCH & 1;
  out.fowner = eff >> L_CAP_FOWNER & 1;
  out.fsetid = eff >> L_CAP_FSETID & 1;
  out.chown = eff >> L_CAP_CHOWN & 1;
  out.mknod = eff >> L_CAP_MKNOD & 1;
  out.in_groups = process_in_groups;
  out.owner = p;
  return true;
}

uint32_t current_umask() { return creds_or_kernel()->umask; }
uint32_t current_fsuid() { return creds_or_kernel()->fsuid; }
uint32_t current_fsgid() { return creds_or_kernel()->fsgid; }
uint32_t current_euid() { return creds_or_kernel()->euid; }
uint32_t current_egid() { return creds_or_kernel()->egid; }

Result<void> creds_fork(Process& child, Process& parent) {
  Creds& c = *child.creds;
  Creds& pc = *parent.creds;
  uint32_t* groups = nullptr;
  {
    SpinGuard g(pc.lock);
    const size_t n = size_t(pc.ngroups);
    // kmalloc under a spinlock is fine (the heap takes its own, below it).
    if (n) {
      groups = static_cast<uint32_t*>(kmalloc(n * 4));
      if (!groups) return Error::NoMemory;
      for (size_t i = 0; i < n; ++i) groups[i] = pc.groups[i];
    }
    SpinGuard gc(c.lock);
    c.ruid = pc.ruid, c.euid = pc.euid, c.suid = pc.suid, c.fsuid = pc.fsuid;
    c.rgid = pc.rgid, c.egid = pc.egid, c.sgid = pc.sgid, c.fsgid = pc.fsgid;
    kfree(c.groups);
    c.groups = groups;
    c.ngroups = pc.ngroups;
    c.umask = pc.umask;
    c.pgid = pc.pgid;
    c.sid = pc.sid;
    c.persona = pc.persona;
    c.caps = pc.caps;  // the sets and securebits are inherited (capabilities(7))
  }
  return {};
}

DEFINE_SYSCALL(63, uname, Result<void>, UserPtr<Utsname> buf) {
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
  return buf.write(u);
}

DEFINE_SYSCALL(170, sethostname, Result<void>, UserBytes name, int len) { return set_name(g_uts.hostname, name, len); }
DEFINE_SYSCALL(171, setdomainname, Result<void>, UserBytes name, int len) {
  return set_name(g_uts.domainname, name, len);
}

DEFINE_SYSCALL_IRQS_OFF(102, getuid, Result<uint32_t>) { return cur_creds().ruid; }
DEFINE_SYSCALL_IRQS_OFF(107, geteuid, Result<uint32_t>) { return cur_creds().euid; }
DEFINE_SYSCALL_IRQS_OFF(104, getgid, Result<uint32_t>) { return cur_creds().rgid; }
DEFINE_SYSCALL_IRQS_OFF(108, getegid, Result<uint32_t>) { return cur_creds().egid; }

// uid_t and gid_t are unsigned int: (uid_t)-1 is NO_ID.
DEFINE_SYSCALL(105, setuid, Result<void>, uint32_t uid) {
  Creds& c = cur_creds();
  return set_one(c, L_CAP_SETUID, &c.ruid, &c.euid, &c.suid, &c.fsuid, uid);
}
DEFINE_SYSCALL(106, setgid, Result<void>, uint32_t gid) {
  Creds& c = cur_creds();
  return set_one(c, L_CAP_SETGID, &c.rgid, &c.egid, &c.sgid, &c.fsgid, gid);
}
DEFINE_SYSCALL(113, setreuid, Result<void>, uint32_t ruid, uint32_t euid) {
  Creds& c = cur_creds();
  return set_re(c, L_CAP_SETUID, &c.ruid, &c.euid, &c.suid, &c.fsuid, ruid, euid);
}
DEFINE_SYSCALL(114, setregid, Result<void>, uint32_t rgid, uint32_t egid) {
  Creds& c = cur_creds();
  return set_re(c, L_CAP_SETGID, &c.rgid, &c.egid, &c.sgid, &c.fsgid, rgid, egid);
}
DEFINE_SYSCALL(117, setresuid, Result<void>, uint32_t ruid, uint32_t euid, uint32_t suid) {
  Creds& c = cur_creds();
  return set_res(c, L_CAP_SETUID, &c.ruid, &c.euid, &c.suid, &c.fsuid, ruid, euid, suid);
}
DEFINE_SYSCALL(119, setresgid, Result<void>, uint32_t rgid, uint32_t egid, uint32_t sgid) {
  Creds& c = cur_creds();
  return set_res(c, L_CAP_SETGID, &c.rgid, &c.egid, &c.sgid, &c.fsgid, rgid, egid, sgid);
}
DEFINE_SYSCALL(118, getresuid, Result<void>, UserPtr<uint32_t> ruid, UserPtr<uint32_t> euid, UserPtr<uint32_t> suid) {
  const Creds& c = cur_creds();
  return get_res(c.ruid, c.euid, c.suid, ruid, euid, suid);
}
DEFINE_SYSCALL(120, getresgid, Result<void>, UserPtr<uint32_t> rgid, UserPtr<uint32_t> egid, UserPtr<uint32_t> sgid) {
  const Creds& c = cur_creds();
  return get_res(c.rgid, c.egid, c.sgid, rgid, egid, sgid);
}
DEFINE_SYSCALL(122, setfsuid, Result<uint32_t>, uint32_t fsuid) {
  Creds& c = cur_creds();
  return set_fs(c, L_CAP_SETUID, &c.ruid, &c.euid, &c.suid, &c.fsuid, fsuid);
}
DEFINE_SYSCALL(123, setfsgid, Result<uint32_t>, uint32_t fsgid) {
  Creds& c = cur_creds();
  return set_fs(c, L_CAP_SETGID, &c.rgid, &c.egid, &c.sgid, &c.fsgid, fsgid);
}

DEFINE_SYSCALL(115, getgroups, Result<int>, int size, UserPtr<uint32_t> list) {
  if (size < 0) return Error::Invalid;
  Creds& c = cur_creds();
  // Snapshot under the lock; copy out without it (the copy may fault pages in).
  uint32_t* snap = nullptr;
  int n;
  for (;;) {
    {
      SpinGuard g(c.lock);
      n = int(c.ngroups);
      if (size == 0) return n;
      if (size < n) return Error::Invalid;
      if (n == 0) return 0;
      if (snap) {
        for (int i = 0; i < n; ++i) snap[i] = c.groups[i];
        break;
      }
    }
    snap = static_cast<uint32_t*>(kmalloc(size_t(L_NGROUPS_MAX) * 4));
    if (!snap) return Error::NoMemory;
  }
  Result<void> r = list.copy_out(snap, size_t(n));
  kfree(snap);
  if (!r.ok()) return r.error();
  return n;
}

DEFINE_SYSCALL(116, setgroups, Result<void>, int size, UserPtr<const uint32_t> list) {
  const int n = size;
  if (n < 0 || n > L_NGROUPS_MAX) return Error::Invalid;
  uint32_t* copy = n ? static_cast<uint32_t*>(kmalloc(size_t(n) * 4)) : nullptr;
  if (n && !copy) return Error::NoMemory;
  if (n && !list.copy_in(copy, size_t(n)).ok()) {
    kfree(copy);
    return Error::Fault;
  }
  Creds& c = cur_creds();
  uint32_t* drop = copy;
  bool allowed;
  {
    SpinGuard g(c.lock);
    allowed = holds(c, L_CAP_SETGID);
    if (allowed) {
      drop = c.groups;
      c.groups = copy;
      c.ngroups = n;
    }
  }
  kfree(drop);
  if (!allowed) return Error::Permission;
  return {};
}

namespace {

// The process `pid` names for getpgid/getsid/setpgid (0: the caller; a
// thread id of the caller's: the caller), with a reference (process_put),
// or nullptr.
Process* target_process(int pid) {
  Process* me = current_process();
  if (is_self(pid) && me) {
    me->refs.fetch_add(1, std::memory_order_relaxed);
    return me;
  }
  return pid > 0 ? process_get(pid) : nullptr;
}

int read_pgid(Process& p) { return __atomic_load_n(&p.creds->pgid, __ATOMIC_RELAXED); }
int read_sid(Process& p) { return __atomic_load_n(&p.creds->sid, __ATOMIC_RELAXED); }

struct GroupLookup {
  int pgid, sid;
  bool found = false;
};

// Whether a process of session `sid` is in group `pgid` (setpgid may only
// join such a group; a zombie still counts, as on Linux).
bool group_in_session(int pgid, int sid) {
  GroupLookup l{pgid, sid, false};
  process_for_each(
      [](Process& p, void* ctx) {
        auto* l = static_cast<GroupLookup*>(ctx);
        if (read_pgid(p) == l->pgid && read_sid(p) == l->sid) l->found = true;
      },
      &l);
  return l.found;
}

}  // namespace

// getpgid/getsid of any process (a zombie too); ESRCH if none.
DEFINE_SYSCALL(121, getpgid, Result<int>, int pid) {
  Process* p = target_process(pid);
  if (!p) return Error::NoProcess;
  const int r = read_pgid(*p);
  process_put(p);
  return r;
}
DEFINE_SYSCALL_IRQS_OFF(111, getpgrp, Result<int>) { return cur_creds().pgid; }
DEFINE_SYSCALL(124, getsid, Result<int>, int pid) {
  Process* p = target_process(pid);
  if (!p) return Error::NoProcess;
  const int r = read_sid(*p);
  process_put(p);
  return r;
}

// setpgid(pid, pgid), Linux's rules: pid is the caller or a child of its,
// a zombie child included (else ESRCH), a child in the caller's session (EPERM) that has not
// exec'd (EACCES); a session leader cannot move (EPERM); pgid 0 is the
// target's pid, another group must exist in the caller's session (EPERM);
// a negative pgid is EINVAL.
DEFINE_SYSCALL(109, setpgid, Result<void>, int pid, int pgid) {
  if (pgid < 0) return Error::Invalid;
  Process* me = current_process();
  if (!me) return Error::NoProcess;
  Process* t = target_process(pid);
  if (!t) return Error::NoProcess;
  Result<void> r;
  bool child;
  {
    SpinGuard g(process_table_lock());
    child = t != me && t->ppid == me->pid;  // a zombie too, until reaped (Linux's find_task_by_vpid)
  }
  const int my_sid = read_sid(*me);
  const int target = pgid ? pgid : t->pid;
  if (t != me && !child) r = Error::NoProcess;
  else if (child && read_sid(*t) != my_sid) r = Error::Permission;
  else if (child && t->did_exec.load()) r = Error::AccessDenied;
  else if (read_sid(*t) == t->pid) r = Error::Permission;
  else if (target != t->pid && !group_in_session(target, my_sid)) r = Error::Permission;
  if (r.ok()) {
    Creds& c = *t->creds;
    SpinGuard g(c.lock);
    __atomic_store_n(&c.pgid, target, __ATOMIC_RELAXED);
  }
  process_put(t);
  return r;
}

// setsid: a new session and group led by the caller; EPERM if a process
// group with the caller's pid exists already (it leads one, or a process
// it moved there is still in it).
DEFINE_SYSCALL(112, setsid, Result<int>) {
  const int pid = own_pid();
  GroupLookup l{pid, 0, false};
  process_for_each(
      [](Process& p, void* ctx) {
        auto* l = static_cast<GroupLookup*>(ctx);
        if (read_pgid(p) == l->pgid) l->found = true;
      },
      &l);
  if (l.found) return Error::Permission;
  Creds& c = cur_creds();
  SpinGuard g(c.lock);
  __atomic_store_n(&c.sid, pid, __ATOMIC_RELAXED);
  __atomic_store_n(&c.pgid, pid, __ATOMIC_RELAXED);
  return pid;
}

DEFINE_SYSCALL(95, umask, Result<uint32_t>, Mode mask) {
  Creds& c = cur_creds();
  SpinGuard g(c.lock);
  const uint32_t old = c.umask;
  c.umask = mask & 0777;
  return old;
}

// personality(2): 0xffffffff reads the persona; any other value is stored
// and the old one returned, as Linux does. Only PER_LINUX is emulated: the
// flag bits (ADDR_NO_RANDOMIZE, ...) and other domains are remembered but
// change nothing.
DEFINE_SYSCALL(135, personality, Result<uint64_t>, Hex<uint32_t> persona) {
  Creds& c = cur_creds();
  SpinGuard g(c.lock);
  const uint64_t old = c.persona;
  if (persona != 0xffffffffu) c.persona = persona;
  return old;
}

}  // namespace capsule::linux_abi
