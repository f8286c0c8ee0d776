// Signal-driven I/O (linux/file_async.h, docs/events.md "Signal-driven
// I/O"). Each open file description that was given an owner or a signal
// carries a FileAsync (OpenFile::async); while O_ASYNC is on and its
// object can signal, the FileAsync is on the active list and counts on the
// object's Pollable. The Pollable's notify() calls on_async() (the hook),
// which finds the active descriptions of that object, copies their owners
// under the list lock and sends the signals after it, in the notifier's
// thread context.
#include "linux/file_async.h"

#include <new>

#include "arch/spinlock.h"
#include "core/poll.h"
#include "lib/intrusive_list.h"
#include "linux/process.h"
#include "linux/process_state.h"
#include "linux/signal.h"
#include "linux/thread_table.h"

namespace capsule::linux_abi {
namespace {

struct FileAsync {
  int owner_type = -1;  // L_F_OWNER_*, -1: never set
  int owner_id = 0;     // 0: no owner
  int sig = 0;          // F_SETSIG
  int fd = -1;          // the descriptor O_ASYNC was set through (si_fd)
  bool on = false;      // O_ASYNC
  Pollable* source = nullptr;  // counted on while active
  ListNode node;               // in g_active while source != nullptr
};

SpinLock g_lock;  // every FileAsync's fields and the active list
IntrusiveList<FileAsync, &FileAsync::node> g_active GUARDED_BY(g_lock);

// si_code for SIGPOLL and the si_band Linux gives with it (band_table).
constexpr int32_t L_POLL_IN = 1, L_POLL_OUT = 2, L_POLL_ERR = 4, L_POLL_PRI = 5, L_POLL_HUP = 6;
constexpr int64_t BAND_IN = 0x041, BAND_OUT = 0x304, BAND_ERR = 0x008, BAND_PRI = 0x082, BAND_HUP = 0x018;

void drop(vfs::OpenFile& f) {
  auto* a = static_cast<FileAsync*>(f.async.load(std::memory_order_acquire));
  if (!a) return;
  {
    SpinGuard g(g_lock);
    if (a->source) {
      g_active.remove(*a);
      a->source->async_detach();
      a->source = nullptr;
    }
  }
  f.async.store(nullptr, std::memory_order_release);
  delete a;
}

struct Target {
  int type, id, sig, fd;
};

bool alive(Process& q) {
  SpinGuard g(process_table_lock());
  return !q.zombie;
}

bool group_exists(int pgid) {
  struct Find {
    int pgid;
    bool found = false;
  } s{pgid};
  process_for_each(
      [](Process& q, void* ctx) {
        auto& s = *static_cast<Find*>(ctx);
        if (!alive(q)) return;
        if (__atomic_load_n(&q.creds->pgid, __ATOMIC_RELAXED) == s.pgid) s.found = true;
      },
      &s);
  return s.found;
}

bool owner_exists(int type, int id) {
  if (type == L_F_OWNER_PGRP) return group_exists(id);
  Process* p = type == L_F_OWNER_TID ? process_get_by_tid(id) : process_get(id);
  if (!p) return false;
  process_put(p);
  return true;
}

void send(const Target& t, uint32_t events) {
  KSigInfo info;
  if (t.sig) {
    // F_SETSIG: the signal with the reason, the band and the descriptor.
    int32_t code;
    int64_t band;
    if (events & (POLL_IN | POLL_RDNORM | POLL_RDBAND)) code = L_POLL_IN, band = BAND_IN;
    else if (events & (POLL_OUT | POLL_WRNORM | POLL_WRBAND)) code = L_POLL_OUT, band = BAND_OUT;
    else if (events & POLL_PRI) code = L_POLL_PRI, band = BAND_PRI;
    else if (events & POLL_ERR) code = L_POLL_ERR, band = BAND_ERR;
    else if (events & POLL_HUP) code = L_POLL_HUP, band = BAND_HUP;
    else return;
    info.signo = t.sig;
    info.code = code;
    const int32_t fd = t.fd;
    __builtin_memcpy(info.u.raw, &band, 8);  // si_band
    __builtin_memcpy(info.u.raw + 8, &fd, 4);  // si_fd
  } else {
    info.signo = SIGIO;  // plain SIGIO: no details (SEND_SIG_PRIV)
    info.code = SI_KERNEL;
  }
  if (t.type == L_F_OWNER_PGRP) {
    struct Send {
      int pgid;
      const KSigInfo* info;
    } s{t.id, &info};
    process_for_each(
        [](Process& q, void* ctx) {
          auto& s = *static_cast<Send*>(ctx);
          if (alive(q) && __atomic_load_n(&q.creds->pgid, __ATOMIC_RELAXED) == s.pgid)
            (void)signal_send_process(q, *s.info);
        },
        &s);
    return;
  }
  Process* p = t.type == L_F_OWNER_TID ? process_get_by_tid(t.id) : process_get(t.id);
  if (!p) return;  // the owner went away: nothing to signal
  if (t.type == L_F_OWNER_TID) (void)signal_send_tid(*p, t.id, info);
  else (void)signal_send_process(*p, info);
  process_put(p);
}

// The Pollable hook: thread context, interrupts on.
void on_async(Pollable& source, uint32_t events) {
  constexpr size_t MAX = 8;  // descriptions of one object signalled per change
  Target targets[MAX];
  size_t n = 0;
  {
    SpinGuard g(g_lock);
    for (FileAsync& a : g_active)
      if (a.source == &source && a.owner_id && n < MAX) targets[n++] = {a.owner_type, a.owner_id, a.sig, a.fd};
  }
  for (size_t i = 0; i < n; ++i) send(targets[i], events);
}

Result<FileAsync*> state_of(vfs::OpenFile& f) {
  if (auto* a = static_cast<FileAsync*>(f.async.load(std::memory_order_acquire))) return a;
  auto* a = new (std::nothrow) FileAsync();
  if (!a) return Error::NoMemory;
  // Hooks set once, before any state can need them.
  if (!vfs::OpenFile::on_async_release.load(std::memory_order_acquire)) {
    vfs::OpenFile::on_async_release.store(drop, std::memory_order_release);
    Pollable::set_async_hook(on_async);
  }
  void* expected = nullptr;
  if (!f.async.compare_exchange_strong(expected, a, std::memory_order_acq_rel)) {
    delete a;  // another thread attached one first
    return static_cast<FileAsync*>(expected);
  }
  return a;
}

}  // namespace

Result<void> async_set_owner_ex(vfs::OpenFile& f, int type, int id) {
  if (type != L_F_OWNER_TID && type != L_F_OWNER_PID && type != L_F_OWNER_PGRP) return Error::Invalid;
  if (id < 0) return Error::NoProcess;
  if (id && !owner_exists(type, id)) return Error::NoProcess;
  FileAsync* a = TRY(state_of(f));
  SpinGuard g(g_lock);
  a->owner_type = type;
  a->owner_id = id;
  return {};
}

Result<void> async_set_owner(vfs::OpenFile& f, int who) {
  if (who == INT32_MIN) return Error::Invalid;
  if (who < 0) return async_set_owner_ex(f, L_F_OWNER_PGRP, -who);
  return async_set_owner_ex(f, L_F_OWNER_PID, who);
}

int async_owner(vfs::OpenFile& f) {
  auto* a = static_cast<FileAsync*>(f.async.load(std::memory_order_acquire));
  if (!a) return 0;
  SpinGuard g(g_lock);
  return a->owner_type == L_F_OWNER_PGRP ? -a->owner_id : a->owner_id;
}

void async_owner_ex(vfs::OpenFile& f, int* type, int* id) {
  *type = L_F_OWNER_TID;  // never set: {0, 0}, as Linux
  *id = 0;
  auto* a = static_cast<FileAsync*>(f.async.load(std::memory_order_acquire));
  if (!a) return;
  SpinGuard g(g_lock);
  if (a->owner_type < 0) return;
  *type = a->owner_type;
  *id = a->owner_id;
}

Result<void> async_set_signal(vfs::OpenFile& f, int sig) {
  if (sig < 0 || sig > L_NSIG) return Error::Invalid;
  FileAsync* a = TRY(state_of(f));
  SpinGuard g(g_lock);
  a->sig = sig;
  return {};
}

int async_signal(vfs::OpenFile& f) {
  auto* a = static_cast<FileAsync*>(f.async.load(std::memory_order_acquire));
  if (!a) return 0;
  SpinGuard g(g_lock);
  return a->sig;
}

bool async_capable(vfs::OpenFile& f) {
  Pollable* src = f.vnode().pollable();
  return src && src->signals_io();
}

Result<void> async_enable(vfs::OpenFile& f, int fd, bool on) {
  Pollable* src = f.vnode().pollable();
  if (!on && !f.async.load(std::memory_order_acquire)) return {};
  FileAsync* a = TRY(state_of(f));
  SpinGuard g(g_lock);
  a->on = on;
  if (on) a->fd = fd;
  const bool want = on && src && src->signals_io();
  if (want && !a->source) {
    a->source = src;
    src->async_attach();
    g_active.push_back(*a);
  } else if (!want && a->source) {
    g_active.remove(*a);
    a->source->async_detach();
    a->source = nullptr;
  }
  return {};
}

}  // namespace capsule::linux_abi
