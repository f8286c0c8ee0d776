// AF_UNIX sockets (net/unix/unix_socket.h, docs/net.md; unix(7)).
//
// Every socket owns a receive queue of messages (a stream's chunks, or
// datagram / seqpacket records) under its own Mutex; a sender checks its
// own state, then appends to the receiver's queue under the receiver's
// lock, and waits there (space_wait_) when the queue is full. The
// receiver wakes the senders and tells the sender's watchers (POLLOUT)
// when it makes room. Connections are pairs of sockets pointing at each
// other (peer_); the listener keeps not-yet-accepted server ends on
// pending_.
#include "net/unix/unix_socket.h"

#include <new>

#include "core/mm.h"
#include "core/thread.h"
#include "core/time.h"

namespace capsule::net {

using event::Hold;

namespace {

constexpr uint32_t READABLE = POLL_IN | POLL_RDNORM;
constexpr uint32_t WRITABLE = POLL_OUT | POLL_WRNORM | POLL_WRBAND;
constexpr size_t MAX_CHUNK = 64 * 1024;  // a stream write queues chunks of at most this

// Bound names: path names by their socket inode, abstract ones by bytes.
// A list is enough for the handful of names a program binds; a leaf lock.
Mutex g_names_lock;
IntrusiveList<UnixSocket, &UnixSocket::name_node> g_names GUARDED_BY(g_names_lock);
std::atomic<uint32_t> g_autobind{0};

bool same_name(const UnixName& a, const Address& b) {
  if (a.len != b.len) return false;
  for (size_t i = 0; i < a.len; ++i)
    if (a.data[i] != b.data[i]) return false;
  return true;
}

void copy_name(const UnixName& from, Address& to) {
  to.family = Family::Unix;
  to.len = from.len;
  for (size_t i = 0; i < from.len; ++i) to.data[i] = from.data[i];
}

StringView path_of(const Address& a) { return {reinterpret_cast<const char*>(a.data), a.len}; }

}  // namespace

Result<void> FileList::reserve(size_t n) {
  clear();
  if (!n) return {};
  files_ = new (std::nothrow) vfs::FileRef[n];
  if (!files_) return Error::NoMemory;
  n_ = n;
  return {};
}

void FileList::clear() {
  delete[] files_;
  files_ = nullptr;
  n_ = 0;
}

FileList& FileList::operator=(FileList&& o) {
  if (this != &o) {
    clear();
    files_ = o.files_, n_ = o.n_;
    o.files_ = nullptr, o.n_ = 0;
  }
  return *this;
}

UnixMsg::~UnixMsg() { kfree(data); }

// The bound socket an address names, for connect and sendto. A path that
// is not a socket, or a name nobody listens on, is ConnRefused; a path's
// socket of another type WrongProtoType (EPROTOTYPE).
Result<UnixRef> unix_lookup(const Address& a, SockType t) {
  if (a.family != Family::Unix || a.len == 0) return Error::Invalid;
  vfs::VnodeRef node;
  if (!a.abstract()) {
    vfs::Vfs* v = vfs::kernel_vfs();
    if (!v || !a.at) return Error::NotFound;
    node = TRY(v->resolve(*a.at, path_of(a), vfs::WALK_FOLLOW));
    if (node->type() != vfs::VType::Socket) return Error::ConnRefused;
  }
  UnixRef found;
  {
    Hold<Mutex> g(g_names_lock);
    for (UnixSocket& s : g_names) {
      // An abstract name of another type is no match (ECONNREFUSED); a
      // path's socket of another type is EPROTOTYPE (unix_find_bsd).
      if (node ? s.node_ == node : (!s.node_ && s.type() == t && same_name(s.name_, a))) {
        found = UnixRef(&s);
        break;
      }
    }
  }
  if (!found) return Error::ConnRefused;
  if (found->type() != t) return Error::WrongProtoType;
  return found;
}

UnixSocket::~UnixSocket() { detach_watchers(); }

void UnixSocket::pair(UnixSocket& a, UnixSocket& b, const Creds& c) {
  Hold<Mutex> ga(a.mu_);
  Hold<Mutex> gb(b.mu_);  // both new: nobody else can hold them
  a.peer_ = UnixRef(&b);
  b.peer_ = UnixRef(&a);
  a.state_ = b.state_ = State::Connected;
  a.peer_creds_ = b.peer_creds_ = c;
}

void UnixSocket::wake_locked(uint32_t events) {
  read_wait_.wake_all();
  space_wait_.wake_all();
  notify(events);
}

// --- names ------------------------------------------------------------------------

Result<void> UnixSocket::bind(const Address& a) {
  if (a.family != Family::Unix) return Error::Invalid;
  const bool path = a.len && !a.abstract();
  vfs::VnodeRef node;
  if (path) {
    // A path name is a socket inode, made first (as Linux does): a name
    // that exists is EADDRINUSE, whatever the file is, even for a socket
    // that is bound already.
    vfs::Vfs* v = vfs::kernel_vfs();
    if (!v || !a.at) return Error::NotFound;
    vfs::CreateArgs c = a.create;
    c.mode = vfs::MODE_SOCKET | (c.mode & vfs::MODE_PERM);
    auto r = v->mknod(*a.at, path_of(a), c);
    if (!r.ok()) return r.error() == Error::Exists ? Error::AddrInUse : r.error();
    auto n = v->resolve(*a.at, path_of(a), 0);
    if (!n.ok()) return n.error();
    node = n.value();
  }
  Hold<Mutex> g(mu_);
  if (bound_ || state_ == State::Closed) {
    if (path) (void)vfs::kernel_vfs()->unlink(*a.at, path_of(a));
    if (bound_ && a.len == 0) return {};  // autobind of a bound socket: nothing to do
    return Error::Invalid;
  }
  UnixName n;
  if (a.len == 0) {
    // Autobind (unix(7)): an abstract name of five hex digits.
    for (int tries = 0;; ++tries) {
      if (tries > 0xfffff) return Error::AddrInUse;
      uint32_t k = g_autobind.fetch_add(1, std::memory_order_relaxed) & 0xfffff;
      n.len = 6;
      n.data[0] = 0;
      for (int i = 0; i < 5; ++i) n.data[1 + i] = uint8_t("0123456789abcdef"[(k >> (16 - 4 * i)) & 0xf]);
      Address probe;
      probe.len = n.len;
      for (size_t i = 0; i < n.len; ++i) probe.data[i] = n.data[i];
      Hold<Mutex> gn(g_names_lock);
      bool taken = false;
      for (UnixSocket& s : g_names) taken = taken || (!s.node_ && same_name(s.name_, probe));
      if (taken) continue;
      name_ = n;
      bound_ = true;
      g_names.push_back(*this);
      return {};
    }
  }
  n.len = a.len;
  for (size_t i = 0; i < a.len; ++i) n.data[i] = a.data[i];
  Hold<Mutex> gn(g_names_lock);
  if (!node) {
    for (UnixSocket& s : g_names)
      if (!s.node_ && same_name(s.name_, a)) return Error::AddrInUse;
  }
  name_ = n;
  bound_ = true;
  node_ = node;
  g_names.push_back(*this);
  return {};
}

Result<void> UnixSocket::name(Address& out) {
  Hold<Mutex> g(mu_);
  copy_name(name_, out);
  return {};
}

Result<void> UnixSocket::peer_name(Address& out) {
  UnixRef p;
  {
    Hold<Mutex> g(mu_);
    if (!peer_) return Error::NotConnected;
    p = peer_;
  }
  Hold<Mutex> g(p->mu_);
  copy_name(p->name_, out);
  return {};
}

Result<Creds> UnixSocket::peer_creds() {
  Hold<Mutex> g(mu_);
  return peer_creds_;
}

// --- connections ------------------------------------------------------------------

Result<void> UnixSocket::listen(int backlog, const Creds& me) {
  if (!connection()) return Error::OpNotSupported;
  Hold<Mutex> g(mu_);
  if (!bound_ || (state_ != State::Unconnected && state_ != State::Listening)) return Error::Invalid;
  // listen(2): a backlog above somaxconn (a negative one too, as unsigned)
  // is cut to it.
  if (unsigned(backlog) > unsigned(MAX_BACKLOG)) backlog = MAX_BACKLOG;
  backlog_ = backlog;
  state_ = State::Listening;
  listen_creds_ = me;
  space_wait_.wake_all();  // connectors waiting for room
  return {};
}

Result<void> UnixSocket::connect(const Address& a, bool nonblock, const Creds& me) {
  const uint64_t dl = deadline(true, uptime_ns());  // SO_SNDTIMEO (unix_wait_for_peer)
  if (!connection()) {
    // A datagram socket's default destination; AF_UNSPEC (len 0)
    // dissolves it.
    UnixRef to;
    if (a.len) to = TRY(unix_lookup(a, type_));
    UnixRef old;
    Hold<Mutex> g(mu_);
    old = static_cast<UnixRef&&>(peer_);
    peer_ = to;
    return {};
  }
  if (a.len == 0) return Error::Invalid;
  UnixRef target = TRY(unix_lookup(a, type_));
  auto* server = new (std::nothrow) UnixSocket(type_);
  if (!server) return Error::NoMemory;
  UnixRef s = UnixRef::adopt(server);
  Hold<Mutex> g(mu_);
  if (state_ == State::Connected) return Error::IsConnected;
  if (state_ != State::Unconnected) return Error::Invalid;
  {
    Hold<Mutex> gt(target->mu_);
    for (;;) {
      if (target->state_ != State::Listening) return Error::ConnRefused;
      // Linux admits backlog + 1 waiting connections.
      if (target->pending_.size() <= size_t(target->backlog_)) break;
      if (nonblock) return Error::Again;
      WaitTag tag("unix connect", target.get());
      if (auto w = target->space_wait_.wait(target->mu_, dl); !w) return timeout_is_again(w.error());
    }
    {
      Hold<Mutex> gs(s->mu_);  // new: nobody else holds it
      s->peer_ = UnixRef(this);
      s->state_ = State::Connected;
      s->peer_creds_ = me;
      s->name_ = target->name_;  // getsockname of the accepted end: the listener's name
    }
    peer_creds_ = target->listen_creds_;
    target->pending_.push_back(*UnixRef(s).leak());
    target->read_wait_.wake_all();
    target->notify(READABLE);
  }
  peer_ = s;
  state_ = State::Connected;
  notify(WRITABLE);
  return {};
}

Result<SocketRef> UnixSocket::accept(bool nonblock) {
  const uint64_t dl = deadline(false, uptime_ns());  // SO_RCVTIMEO
  if (!connection()) return Error::OpNotSupported;
  Hold<Mutex> g(mu_);
  for (;;) {
    if (state_ != State::Listening) return Error::Invalid;
    if (UnixSocket* s = pending_.pop_front()) {
      space_wait_.wake_all();  // a connector waiting for backlog room
      return SocketRef(UnixRef::adopt(s));
    }
    if (nonblock) return Error::Again;
    WaitTag tag("unix accept", this);
    if (auto w = read_wait_.wait(mu_, dl); !w) return timeout_is_again(w.error());
  }
}

Result<void> UnixSocket::shutdown(Shut how) {
  const bool rd = uint8_t(how) & uint8_t(Shut::Read), wr = uint8_t(how) & uint8_t(Shut::Write);
  UnixRef p;
  {
    Hold<Mutex> g(mu_);
    if (rd) rcv_shut_ = true;
    if (wr) snd_shut_ = true;
    if (connection() && state_ == State::Connected) p = peer_;
    wake_locked(POLL_ALL);
  }
  // The peer's view (unix_shutdown): my SHUT_WR ends its reading, my
  // SHUT_RD its writing.
  if (p) {
    Hold<Mutex> g(p->mu_);
    if (wr) p->rcv_shut_ = true;
    if (rd) p->snd_shut_ = true;
    p->wake_locked(POLL_ALL);
  }
  return {};
}

void UnixSocket::close() {
  IntrusiveList<UnixMsg, &UnixMsg::node> drop;
  IntrusiveList<UnixSocket, &UnixSocket::accept_node> embryos;
  UnixRef p;
  bool unread;
  {
    Hold<Mutex> g(mu_);
    state_ = State::Closed;
    p = static_cast<UnixRef&&>(peer_);
    unread = !queue_.empty();
    while (UnixMsg* m = queue_.pop_front()) drop.push_back(*m);
    queued_ = 0;
    while (UnixSocket* s = pending_.pop_front()) embryos.push_back(*s);
    rcv_shut_ = snd_shut_ = true;
    wake_locked(POLL_ALL);
  }
  if (p && connection()) {
    // The other end of a connection sees EOF and EPIPE; ECONNRESET when
    // this end dropped data unread (Linux's unix_release_sock).
    Hold<Mutex> g(p->mu_);
    if (p->peer_ == this) {
      p->rcv_shut_ = p->snd_shut_ = true;
      if (unread) p->err_ = Error::ConnReset;
      p->wake_locked(POLL_ALL);
    }
  }
  {
    Hold<Mutex> g(g_names_lock);
    if (g_names.contains(*this)) g_names.remove(*this);
  }
  while (UnixMsg* m = drop.pop_front()) delete m;
  while (UnixSocket* s = embryos.pop_front()) {
    // A connection never accepted: its client sees a reset.
    UnixRef e = UnixRef::adopt(s);
    UnixRef c;
    {
      Hold<Mutex> g(e->mu_);
      c = e->peer_;
    }
    if (c) {
      Hold<Mutex> g(c->mu_);
      c->err_ = Error::ConnReset;
    }
    e->close();
  }
}

// --- data ---------------------------------------------------------------------------

void UnixSocket::enqueue_locked(UnixMsg* msg) {
  queue_.push_back(*msg);
  queued_ += msg->len;
  read_wait_.wake_all();
  notify(READABLE);
}

// Must a sender of `size` bytes wait for room in this socket's queue?
// Records to a socket not connected back to the sender count against
// net.unix.max_dgram_qlen; otherwise the bytes in the queue against the
// sender's SO_SNDBUF (one message always fits an empty queue).
bool UnixSocket::sender_blocked_locked(size_t size, UnixSocket* from) {
  if (type_ != SockType::Stream && peer_ != from) return queue_.size() > MAX_DGRAM_QLEN;
  size_t buf = size_t(from->sndbuf_.load(std::memory_order_relaxed));
  return queued_ && queued_ + size > buf;
}

Result<size_t> UnixSocket::sendmsg(SendMsg& m) {
  UnixRef to;
  {
    Hold<Mutex> g(mu_);
    if (snd_shut_) return Error::BrokenPipe;
    if (connection()) {
      if (state_ != State::Connected) return m.to ? Error::OpNotSupported : Error::NotConnected;
      if (m.to) return Error::IsConnected;
      to = peer_;
    } else if (!m.to) {
      if (!peer_) return Error::NotConnected;
      to = peer_;
    }
  }
  if (!to) to = TRY(unix_lookup(*m.to, type_));
  if (type_ == SockType::Stream) return send_stream(m, static_cast<UnixRef&&>(to));
  return send_record(m, static_cast<UnixRef&&>(to));
}

Result<size_t> UnixSocket::send_stream(SendMsg& m, UnixRef peer) {
  const uint64_t dl = deadline(true, uptime_ns());  // SO_SNDTIMEO
  const size_t total = m.data.size();
  size_t done = 0;
  UnixName me;
  {
    Hold<Mutex> g(mu_);
    me = name_;
  }
  Hold<Mutex> g(peer->mu_);
  while (done < total) {
    if (peer->state_ == State::Closed || peer->rcv_shut_) return done ? Result<size_t>(done) : Error::BrokenPipe;
    if (peer->sender_blocked_locked(1, this)) {
      if (m.nonblock) return done ? Result<size_t>(done) : Error::Again;
      WaitTag tag("unix send", peer.get());
      auto w = peer->space_wait_.wait(peer->mu_, dl);
      if (!w) return done ? Result<size_t>(done) : timeout_is_again(w.error());
      continue;
    }
    size_t buf = size_t(sndbuf_.load(std::memory_order_relaxed));
    size_t room = buf > peer->queued_ ? buf - peer->queued_ : 1;
    size_t chunk = total - done;
    if (chunk > room) chunk = room;
    if (chunk > MAX_CHUNK) chunk = MAX_CHUNK;
    auto* msg = new (std::nothrow) UnixMsg;
    if (msg) msg->data = static_cast<uint8_t*>(kmalloc(chunk));
    if (!msg || !msg->data) {
      delete msg;
      return done ? Result<size_t>(done) : Error::NoMemory;
    }
    auto c = m.data.copy_in(done, msg->data, chunk);
    if (!c) {
      delete msg;
      return done ? Result<size_t>(done) : c.error();
    }
    msg->len = chunk;
    msg->creds = m.creds;
    msg->from = me;
    msg->sender = UnixRef(this);
    if (done == 0) msg->files = static_cast<FileList&&>(m.files);
    peer->enqueue_locked(msg);
    done += chunk;
  }
  return done;
}

Result<size_t> UnixSocket::send_record(SendMsg& m, UnixRef to) {
  const uint64_t dl = deadline(true, uptime_ns());  // SO_SNDTIMEO
  const size_t size = m.data.size();
  if (size + 32 > size_t(sndbuf_.load(std::memory_order_relaxed))) return Error::MessageSize;
  auto* msg = new (std::nothrow) UnixMsg;
  if (!msg) return Error::NoMemory;
  if (size) {
    msg->data = static_cast<uint8_t*>(kmalloc(size));
    if (!msg->data) {
      delete msg;
      return Error::NoMemory;
    }
    auto c = m.data.copy_in(0, msg->data, size);
    if (!c) {
      delete msg;
      return c.error();
    }
  }
  msg->len = size;
  msg->creds = m.creds;
  msg->sender = UnixRef(this);
  {
    Hold<Mutex> g(mu_);
    msg->from = name_;
  }
  msg->files = static_cast<FileList&&>(m.files);
  UnixRef drop_peer;
  Error err = Error::None;
  {
    Hold<Mutex> g(to->mu_);
    for (;;) {
      if (to->state_ == State::Closed) {
        err = connection() ? Error::BrokenPipe : Error::ConnRefused;
        break;
      }
      if (!connection() && to.get() != this && to->peer_ && to->peer_ != this) {
        err = Error::Permission;  // it is connected to someone else (unix_may_send)
        break;
      }
      if (to->rcv_shut_) {
        err = Error::BrokenPipe;
        break;
      }
      if (!to->sender_blocked_locked(size, this)) {
        to->enqueue_locked(msg);
        msg = nullptr;
        break;
      }
      if (m.nonblock) {
        err = Error::Again;
        break;
      }
      WaitTag tag("unix send", to.get());
      auto w = to->space_wait_.wait(to->mu_, dl);
      if (!w) {
        err = timeout_is_again(w.error());
        break;
      }
    }
  }
  if (err == Error::ConnRefused) {
    // A connected datagram socket forgets a peer that has gone.
    Hold<Mutex> g(mu_);
    if (peer_ == to) drop_peer = static_cast<UnixRef&&>(peer_);
  }
  if (msg) {
    // Not queued: the caller keeps nothing; files in it are released here
    // (outside every lock).
    msg->sender = UnixRef();
    delete msg;
  }
  if (err != Error::None) return err;
  return size;
}

Result<size_t> UnixSocket::recvmsg(RecvMsg& m) {
  if (type_ == SockType::Stream) return recv_stream(m);
  return recv_record(m);
}

Result<size_t> UnixSocket::recv_stream(RecvMsg& m) {
  const uint64_t dl = deadline(false, uptime_ns());  // SO_RCVTIMEO
  const size_t want = m.data.size();
  const bool peek = m.flags & MsgFlags::PEEK;
  size_t copied = 0;
  IntrusiveList<UnixMsg, &UnixMsg::node> done_msgs;
  Error err = Error::None;
  {
    Hold<Mutex> g(mu_);
    if (state_ == State::Listening || state_ == State::Unconnected) return Error::Invalid;
    UnixMsg* cur = nullptr;  // PEEK: the next message to look at
    bool first = true;
    while (copied < want) {
      UnixMsg* msg = peek ? (first ? queue_.front() : cur) : queue_.front();
      if (!msg) {
        if (copied && !(m.flags & MsgFlags::WAITALL)) break;
        if (peek && !first) break;  // peeked all there is
        if (err_ != Error::None) {
          if (!copied) {
            err = err_;
            err_ = Error::None;
          }
          break;
        }
        if (rcv_shut_ || state_ == State::Closed) break;
        if (m.nonblock) {
          if (!copied) err = Error::Again;
          break;
        }
        WaitTag tag("unix recv", this);
        auto w = read_wait_.wait(mu_, dl);
        if (!w) {
          if (!copied) err = timeout_is_again(w.error());
          break;
        }
        continue;
      }
      // Descriptors travel with the bytes they were sent with: a read
      // never runs past them into the next message's.
      if (msg->files.size() && copied) break;
      size_t n = msg->len - msg->off;
      if (n > want - copied) n = want - copied;
      auto c = m.data.copy_out(copied, msg->data + msg->off, n);
      if (!c) {
        if (!copied) err = c.error();
        break;
      }
      if (first && m.want_creds) m.creds = msg->creds;
      if (first) copy_name(msg->from, m.from);
      first = false;
      copied += n;
      bool had_files = msg->files.size() != 0;
      if (had_files) {
        if (peek) {
          if (m.files.reserve(msg->files.size()).ok())
            for (size_t i = 0; i < msg->files.size(); ++i) m.files[i] = msg->files[i];
        } else {
          m.files = static_cast<FileList&&>(msg->files);
        }
      }
      if (peek) {
        // The next message in the queue after msg.
        bool found = false;
        cur = nullptr;
        for (UnixMsg& x : queue_) {
          if (found) {
            cur = &x;
            break;
          }
          if (&x == msg) found = true;
        }
      } else {
        msg->off += n;
        queued_ -= n;
        if (msg->off == msg->len) {
          queue_.remove(*msg);
          done_msgs.push_back(*msg);
        }
      }
      if (had_files) break;
    }
    if (!peek && copied) {
      space_wait_.wake_all();
      if (peer_) peer_->notify(WRITABLE);
    }
  }
  while (UnixMsg* x = done_msgs.pop_front()) delete x;
  if (copied || err == Error::None) return copied;
  return err;
}

Result<size_t> UnixSocket::recv_record(RecvMsg& m) {
  const uint64_t dl = deadline(false, uptime_ns());  // SO_RCVTIMEO
  const bool peek = m.flags & MsgFlags::PEEK;
  UnixMsg* msg = nullptr;
  size_t ret = 0;
  {
    Hold<Mutex> g(mu_);
    if (state_ == State::Listening) return Error::Invalid;
    if (connection() && state_ == State::Unconnected) return Error::NotConnected;
    for (;;) {
      msg = queue_.front();
      if (msg) break;
      if (err_ != Error::None) {
        Error e = err_;
        err_ = Error::None;
        return e;
      }
      if (rcv_shut_ || state_ == State::Closed) return size_t(0);
      if (m.nonblock) return Error::Again;
      WaitTag tag("unix recv", this);
      if (auto w = read_wait_.wait(mu_, dl); !w) return timeout_is_again(w.error());
    }
    size_t n = msg->len < m.data.size() ? msg->len : m.data.size();
    auto c = m.data.copy_out(0, msg->data, n);
    if (!c) return c.error();
    if (n < msg->len) m.out_flags |= MsgFlags::TRUNC;
    ret = (m.flags & MsgFlags::TRUNC) ? msg->len : n;
    if (m.want_creds) m.creds = msg->creds;
    copy_name(msg->from, m.from);
    if (peek) {
      if (msg->files.size() && m.files.reserve(msg->files.size()).ok())
        for (size_t i = 0; i < msg->files.size(); ++i) m.files[i] = msg->files[i];
      msg = nullptr;
    } else {
      m.files = static_cast<FileList&&>(msg->files);
      queue_.remove(*msg);
      queued_ -= msg->len;
      space_wait_.wake_all();
    }
  }
  if (msg) {
    if (msg->sender) msg->sender->notify(WRITABLE);
    delete msg;
  }
  return ret;
}

// --- state --------------------------------------------------------------------------

uint32_t UnixSocket::poll_events() {
  uint32_t ev = 0;
  UnixRef p;
  {
    Hold<Mutex> g(mu_);
    if (!queue_.empty() || !pending_.empty()) ev |= READABLE;
    if (err_ != Error::None) ev |= POLL_ERR;
    if (rcv_shut_) ev |= POLL_RDHUP | READABLE;
    if (rcv_shut_ && snd_shut_) ev |= POLL_HUP;
    // unix_poll: a connection-type socket not connected hangs up; a
    // listener is never writable.
    if (connection() && state_ == State::Unconnected) ev |= POLL_HUP;
    if (state_ == State::Listening) return ev;
    if (state_ != State::Closed) p = peer_;
  }
  bool writable = true;
  if (p) {
    Hold<Mutex> g(p->mu_);
    if (p->state_ != State::Closed) {
      if (type_ == SockType::Stream) {
        // Linux: writable while at most a quarter of SO_SNDBUF is in flight.
        writable = p->queued_ * 4 <= size_t(sndbuf_.load(std::memory_order_relaxed));
      } else {
        writable = !p->sender_blocked_locked(1, this);
      }
    }
  }
  if (writable) ev |= WRITABLE;
  return ev;
}

size_t UnixSocket::bytes_readable() {
  Hold<Mutex> g(mu_);
  if (type_ == SockType::Stream) return queued_;
  UnixMsg* m = queue_.front();
  return m ? m->len : 0;
}

size_t UnixSocket::bytes_unsent() {
  UnixRef p;
  {
    Hold<Mutex> g(mu_);
    p = peer_;
  }
  if (!p || type_ != SockType::Stream) return 0;
  Hold<Mutex> g(p->mu_);
  return p->queued_;
}

Result<int> UnixSocket::get_option(SockOpt o) {
  switch (o) {
    case SockOpt::SndBuf: return sndbuf_.load(std::memory_order_relaxed);
    case SockOpt::RcvBuf: return rcvbuf_.load(std::memory_order_relaxed);
    case SockOpt::PassCred: return int(passcred_.load(std::memory_order_relaxed));
    case SockOpt::ReuseAddr: return int(reuseaddr_.load(std::memory_order_relaxed));
    case SockOpt::KeepAlive: return int(keepalive_.load(std::memory_order_relaxed));
    case SockOpt::AcceptConn: {
      Hold<Mutex> g(mu_);
      return int(state_ == State::Listening);
    }
    case SockOpt::Error: {
      Hold<Mutex> g(mu_);
      Error e = err_;
      err_ = Error::None;
      return int(e);  // the adapter turns it into an errno
    }
    default: return Error::NoProtoOpt;
  }
}

Result<void> UnixSocket::set_option(SockOpt o, int value) {
  switch (o) {
    case SockOpt::SndBuf: {
      sndbuf_.store(value, std::memory_order_relaxed);
      Hold<Mutex> g(mu_);
      wake_locked(WRITABLE);
      return {};
    }
    case SockOpt::RcvBuf: rcvbuf_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::PassCred: passcred_.store(value != 0, std::memory_order_relaxed); return {};
    case SockOpt::ReuseAddr: reuseaddr_.store(value != 0, std::memory_order_relaxed); return {};
    case SockOpt::KeepAlive: keepalive_.store(value != 0, std::memory_order_relaxed); return {};
    default: return Error::NoProtoOpt;
  }
}

// --- creation -----------------------------------------------------------------------

Result<SocketRef> unix_socket(SockType type) {
  auto* s = new (std::nothrow) UnixSocket(type);
  if (!s) return Error::NoMemory;
  return SocketRef(UnixRef::adopt(s));
}

Result<void> unix_socketpair(SockType type, const Creds& creds, SocketRef* a, SocketRef* b) {
  auto* x = new (std::nothrow) UnixSocket(type);
  if (!x) return Error::NoMemory;
  UnixRef rx = UnixRef::adopt(x);
  auto* y = new (std::nothrow) UnixSocket(type);
  if (!y) return Error::NoMemory;
  UnixRef ry = UnixRef::adopt(y);
  UnixSocket::pair(*x, *y, creds);
  *a = SocketRef(rx);
  *b = SocketRef(ry);
  return {};
}

}  // namespace capsule::net
