// System V message queues: msgget, msgsnd, msgrcv, msgctl (docs/ipc.md).
//
// One mutex guards every queue. A sender that finds the queue full and a
// receiver that finds no message of its type sleep on the queue's wait
// word with the mutex dropped; every send and receive wakes the queue's
// sleepers, which look again. Sleepers hold a reference on the queue, so
// IPC_RMID can take it out of the table and wake them (EIDRM) before the
// last one out frees it.
#include <climits>
#include <new>

#include "arch/uaccess.h"
#include "core/mm.h"
#include "core/sync/wait_queue.h"
#include "lib/intrusive_list.h"
#include "linux/identity.h"
#include "linux/ipc_ids.h"
#include "linux/process.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

// include/uapi/linux/msg.h.
constexpr int MSG_STAT = 11, MSG_INFO = 12, MSG_STAT_ANY = 13;
constexpr uint32_t MSG_NOERROR = 010000, MSG_EXCEPT = 020000, MSG_COPY = 040000;
// Linux's defaults.
constexpr int64_t MSGMAX = 8192, MSGMNB = 16384;
constexpr size_t MSGMNI = 1024;  // Linux allows 32000 queues; IPC_INFO tells the smaller table

struct MsqidDs {  // struct msqid64_ds, x86-64
  Ipc64Perm perm;
  int64_t stime, rtime, ctime;
  uint64_t cbytes, qnum, qbytes;
  int32_t lspid, lrpid;
  uint64_t unused4, unused5;
};
static_assert(sizeof(MsqidDs) == 120);

struct Msginfo {
  int32_t msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql;
  uint16_t msgseg;
};
static_assert(sizeof(Msginfo) == 32);

struct Message {
  int64_t type;
  size_t size;
  ListNode node;
  uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
};

struct Queue {
  IpcPerm perm;
  int id = -1;
  int64_t stime = 0, rtime = 0, ctime = 0;
  uint64_t cbytes = 0, qnum = 0, qbytes = MSGMNB;
  int32_t lspid = 0, lrpid = 0;
  uint32_t refs = 1;     // the table's, and one per sleeper (under g_mu)
  bool removed = false;
  IpcWaitWord changed;
  IntrusiveList<Message, &Message::node> messages;
};

Mutex g_mu;
IpcTable<Queue, MSGMNI> g_table GUARDED_BY(g_mu);
uint64_t g_total_msgs GUARDED_BY(g_mu) = 0, g_total_bytes GUARDED_BY(g_mu) = 0;

int32_t current_pid() {
  Process* p = current_process();
  return p ? p->pid : 0;
}

void put_queue(Queue* q) REQUIRES(g_mu) {
  if (--q->refs) return;
  q->~Queue();
  kfree(q);
}

void remove_queue(Queue* q) REQUIRES(g_mu) {
  g_table.remove(q->id);
  while (Message* m = q->messages.front()) {
    q->messages.remove(*m);
    g_total_msgs -= 1;
    g_total_bytes -= m->size;
    kfree(m);
  }
  q->cbytes = q->qnum = 0;
  q->removed = true;
  q->changed.bump_and_wake();
  put_queue(q);
}

Result<int> new_queue(int32_t key, uint32_t flags) REQUIRES(g_mu) {
  if (g_table.count() >= MSGMNI) return Error::NoSpace;
  void* mem = kmalloc(sizeof(Queue));
  if (!mem) return Error::NoMemory;
  auto* q = new (mem) Queue;
  q->perm = ipc_perm_new(key, flags);
  q->ctime = ipc_now();
  auto id = g_table.insert(q);
  if (!id) {
    put_queue(q);
    return id.error();
  }
  q->id = *id;
  return *id;
}

// Sleeps on q with g_mu dropped (q pinned meanwhile). IdRemoved if the
// queue went, Interrupted (EINTR: msgsnd and msgrcv are never restarted,
// signal(7)).
Result<void> sleep_on(Queue* q) REQUIRES(g_mu) {
  ++q->refs;
  const uint32_t seen = q->changed.snapshot();
  g_mu.unlock();
  Result<void> w = q->changed.wait(seen, 0);
  g_mu.lock();
  const bool removed = q->removed;
  put_queue(q);
  if (removed) return Error::IdRemoved;
  return w;
}

// The message msgrcv(2) takes: type 0 the first; > 0 the first of that
// type (MSG_EXCEPT: of another type); < 0 the first of the lowest type not
// above -type.
Message* pick(Queue& q, int64_t type, bool except) REQUIRES(g_mu) {
  Message* best = nullptr;
  for (Message& m : q.messages) {
    if (type == 0) return &m;
    if (type > 0) {
      if ((m.type == type) != except) return &m;
      continue;
    }
    if (m.type <= -type && (!best || m.type < best->type)) best = &m;
  }
  return best;
}

Result<int> msgsnd_locked(int id, Message* msg, uint32_t flags) REQUIRES(g_mu) {
  for (;;) {
    Queue* q = g_table.find_id(id);
    if (!q) return Error::Invalid;
    if (!ipc_permitted(q->perm, 0222)) return Error::AccessDenied;
    if (q->cbytes + msg->size <= q->qbytes && q->qnum + 1 <= q->qbytes) {
      q->messages.push_back(*msg);
      q->cbytes += msg->size;
      q->qnum += 1;
      g_total_msgs += 1;
      g_total_bytes += msg->size;
      q->lspid = current_pid();
      q->stime = ipc_now();
      q->changed.bump_and_wake();
      return 0;
    }
    if (flags & L_IPC_NOWAIT) return Error::Again;
    TRY(sleep_on(q));
  }
}

}  // namespace

// msgget(2).
DEFINE_SYSCALL(68, msgget, Result<int>, int key, Flags<int> flags) {
  const uint32_t fl = uint32_t(int(flags));
  MutexGuard g(g_mu);
  if (key == L_IPC_PRIVATE) return new_queue(key, fl);
  if (Queue* q = g_table.find_key(key)) {
    if ((fl & L_IPC_CREAT) && (fl & L_IPC_EXCL)) return Error::Exists;
    if (!ipc_permitted(q->perm, fl)) return Error::AccessDenied;
    return q->id;
  }
  if (!(fl & L_IPC_CREAT)) return Error::NotFound;
  return new_queue(key, fl);
}

// msgsnd(2): msgp points at { long mtype; char mtext[msgsz]; }.
DEFINE_SYSCALL(69, msgsnd, Result<int>, int msqid, UserPtr<const uint8_t> msgp, int64_t msgsz, Flags<int> flags) {
  if (msgsz > MSGMAX || msgsz < 0 || msqid < 0) return Error::Invalid;
  const int64_t type = TRY(msgp.cast<const int64_t>().read());
  if (type < 1) return Error::Invalid;
  void* mem = kmalloc(sizeof(Message) + size_t(msgsz));
  if (!mem) return Error::NoMemory;
  auto* m = new (mem) Message{type, size_t(msgsz), {}};
  if (auto r = msgp.offset(sizeof(int64_t)).copy_in(m->data(), size_t(msgsz)); !r.ok()) {
    kfree(m);
    return r.error();
  }
  Error err = Error::None;
  {
    MutexGuard g(g_mu);
    if (auto r = msgsnd_locked(msqid, m, uint32_t(int(flags))); !r.ok()) err = r.error();
  }
  if (err == Error::None) return 0;
  kfree(m);
  return err;
}

namespace {
Result<Message*> msgrcv_locked(int id, size_t msgsz, int64_t type, uint32_t flags) REQUIRES(g_mu) {
  for (;;) {
    Queue* q = g_table.find_id(id);
    if (!q) return Error::Invalid;
    if (!ipc_permitted(q->perm, 0444)) return Error::AccessDenied;
    Message* m = nullptr;
    if (flags & MSG_COPY) {
      // The type is an index; the message stays (a copy is returned).
      int64_t i = 0;
      for (Message& each : q->messages)
        if (i++ == type) m = &each;
      if (!m) return Error::NoMessage;
    } else {
      m = pick(*q, type, flags & MSG_EXCEPT);
    }
    if (m) {
      if (m->size > msgsz && !(flags & MSG_NOERROR)) return Error::TooBig;  // E2BIG, the message stays
      if (flags & MSG_COPY) {
        void* mem = kmalloc(sizeof(Message) + m->size);
        if (!mem) return Error::NoMemory;
        auto* c = new (mem) Message{m->type, m->size, {}};
        __builtin_memcpy(c->data(), m->data(), m->size);
        return c;
      }
      q->messages.remove(*m);
      q->cbytes -= m->size;
      q->qnum -= 1;
      g_total_msgs -= 1;
      g_total_bytes -= m->size;
      q->lrpid = current_pid();
      q->rtime = ipc_now();
      q->changed.bump_and_wake();
      return m;
    }
    if (flags & L_IPC_NOWAIT) return Error::NoMessage;
    TRY(sleep_on(q));
  }
}
}  // namespace

// msgrcv(2): copies the type and at most msgsz bytes of the text; returns
// the text's length.
DEFINE_SYSCALL(70, msgrcv, Result<int64_t>, int msqid, UserPtr<uint8_t> msgp, int64_t msgsz, int64_t msgtyp,
               Flags<int> flags) {
  const uint32_t fl = uint32_t(int(flags));
  if (msgsz < 0 || msqid < 0) return Error::Invalid;
  if (fl & MSG_COPY) {
    // Linux: MSG_COPY needs IPC_NOWAIT and excludes MSG_EXCEPT.
    if ((fl & MSG_EXCEPT) || !(fl & L_IPC_NOWAIT)) return Error::Invalid;
  }
  Message* m;
  {
    MutexGuard g(g_mu);
    m = TRY(msgrcv_locked(msqid, size_t(msgsz), msgtyp, fl));
  }
  const size_t n = m->size < size_t(msgsz) ? m->size : size_t(msgsz);
  // A fault here loses the message, as on Linux (it left the queue).
  Result<void> r = msgp.cast<int64_t>().write(m->type);
  if (r.ok()) r = msgp.offset(sizeof(int64_t)).copy_out(m->data(), n);
  kfree(m);
  TRY(r);
  return int64_t(n);
}

// msgctl(2).
DEFINE_SYSCALL(71, msgctl, Result<int>, int msqid, int cmd, UserPtr<uint8_t> buf) {
  if (cmd < 0 || msqid < 0) return Error::Invalid;
  switch (cmd) {
    case L_IPC_INFO:
    case MSG_INFO: {
      Msginfo i{};
      i.msgmax = int32_t(MSGMAX);
      i.msgmnb = int32_t(MSGMNB);
      i.msgmni = int32_t(MSGMNI);
      i.msgssz = 16;
      i.msgseg = 0xffff;
      i.msgpool = 1024 * 32;
      i.msgmap = 1024 * 32;
      i.msgtql = 1024 * 32;
      int maxidx;
      {
        MutexGuard g(g_mu);
        if (cmd == MSG_INFO) {
          i.msgpool = int32_t(g_table.count());
          i.msgmap = int32_t(g_total_msgs);
          i.msgtql = int32_t(g_total_bytes);
        }
        maxidx = g_table.max_index();
      }
      TRY(buf.cast<Msginfo>().write(i));
      return maxidx;
    }
    case MSG_STAT:
    case MSG_STAT_ANY:
    case L_IPC_STAT: {
      MsqidDs d{};
      int ret = 0;
      {
        MutexGuard g(g_mu);
        Queue* q = cmd == L_IPC_STAT ? g_table.find_id(msqid) : g_table.find_index(msqid);
        if (!q) return Error::Invalid;
        if (cmd != MSG_STAT_ANY && !ipc_permitted(q->perm, 0444)) return Error::AccessDenied;
        d.perm = ipc_perm_abi(q->perm);
        d.stime = q->stime;
        d.rtime = q->rtime;
        d.ctime = q->ctime;
        d.cbytes = q->cbytes;
        d.qnum = q->qnum;
        d.qbytes = q->qbytes;
        d.lspid = q->lspid;
        d.lrpid = q->lrpid;
        if (cmd != L_IPC_STAT) ret = q->id;
      }
      TRY(buf.cast<MsqidDs>().write(d));
      return ret;
    }
    case L_IPC_SET: {
      const MsqidDs in = TRY(buf.cast<const MsqidDs>().read());
      MutexGuard g(g_mu);
      Queue* q = g_table.find_id(msqid);
      if (!q) return Error::Invalid;
      if (!ipc_is_owner(q->perm)) return Error::Permission;
      // Raising msg_qbytes above MSGMNB takes CAP_SYS_RESOURCE (msgctl(2)).
      if (in.qbytes > uint64_t(MSGMNB) && in.qbytes > q->qbytes && !current_capable(L_CAP_SYS_RESOURCE))
        return Error::Permission;
      ipc_perm_set(q->perm, in.perm);
      q->qbytes = in.qbytes;
      q->ctime = ipc_now();
      q->changed.bump_and_wake();  // senders may fit now
      return 0;
    }
    case L_IPC_RMID: {
      MutexGuard g(g_mu);
      Queue* q = g_table.find_id(msqid);
      if (!q) return Error::Invalid;
      if (!ipc_is_owner(q->perm)) return Error::Permission;
      remove_queue(q);
      return 0;
    }
    default:
      return Error::Invalid;
  }
}

}  // namespace capsule::linux_abi
