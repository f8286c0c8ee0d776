// AF_NETLINK sockets (netlink(7); docs/net.md, "Netlink"): addressing by
// port id, the request loop Linux's netlink_rcv_skb runs over a sent
// buffer, acknowledgements and errors, and the receive queue of answer
// datagrams. The protocols' answers come from linux/netlink_route.cc.
//
// The kernel side answers at once: sendmsg runs every request of the
// buffer and queues the answers (a dump's parts in datagrams of at most
// DATAGRAM bytes, then NLMSG_DONE), so recvmsg only dequeues. Nothing is
// ever sent unasked (no multicast notifications: the configuration does
// not change after boot), so a blocking recvmsg on an empty queue waits
// for a signal, as it would on Linux with nothing to say.
#include "linux/netlink.h"

#include <new>

#include "core/event/sync.h"
#include "core/event/wait.h"
#include "core/mm.h"
#include "core/thread.h"
#include "core/time.h"
#include "lib/intrusive_list.h"
#include "linux/identity.h"
#include "linux/linux_errno.h"
#include "linux/netlink_msg.h"
#include "linux/process_state.h"

namespace capsule::linux_abi {
namespace {

using event::Hold;
using netlink::Header;

constexpr int L_SOCK_DGRAM = 2, L_SOCK_RAW = 3;
constexpr int NETLINK_ROUTE = 0, MAX_LINKS = 32;
// SOL_NETLINK options (include/uapi/linux/netlink.h).
constexpr int NETLINK_ADD_MEMBERSHIP = 1, NETLINK_DROP_MEMBERSHIP = 2, NETLINK_PKTINFO = 3,
              NETLINK_BROADCAST_ERROR = 4, NETLINK_NO_ENOBUFS = 5, NETLINK_LISTEN_ALL_NSID = 8,
              NETLINK_CAP_ACK = 10, NETLINK_EXT_ACK = 11, NETLINK_GET_STRICT_CHK = 12;
// The options that are an on/off flag of the socket (kept in nl_flags_).
constexpr bool is_flag_option(int o) {
  return o == NETLINK_PKTINFO || o == NETLINK_BROADCAST_ERROR || o == NETLINK_NO_ENOBUFS ||
         o == NETLINK_LISTEN_ALL_NSID || o == NETLINK_CAP_ACK || o == NETLINK_EXT_ACK || o == NETLINK_GET_STRICT_CHK;
}
// What Linux's netlink_dump allocates for a part when the reader has not
// asked for more: NLMSG_GOODSIZE on a 4 KiB page.
constexpr size_t DATAGRAM = 3776;
constexpr int DEFAULT_BUF = 212992;  // net.core.{r,w}mem_default

struct Datagram {
  ListNode node;
  size_t len = 0;
  uint8_t* data = nullptr;
  ~Datagram() { kfree(data); }
};
using DatagramList = IntrusiveList<Datagram, &Datagram::node>;

void drop_all(DatagramList& l) {
  while (Datagram* d = l.pop_front()) delete d;
}

// Port ids in use (the kernel's is 0). A process's first socket gets its
// pid, later ones negative numbers counting down from -4097, as Linux's
// netlink_autobind does.
SpinLock g_ports_lock;
struct Port {
  ListNode node;
  uint32_t id;
};
IntrusiveList<Port, &Port::node> g_ports GUARDED_BY(g_ports_lock);
int32_t g_rover GUARDED_BY(g_ports_lock) = -4097;

bool port_taken(uint32_t id) REQUIRES(g_ports_lock) {
  for (Port& p : g_ports)
    if (p.id == id) return true;
  return false;
}

class NetlinkSocket final : public net::Socket {
 public:
  NetlinkSocket(int linux_type, int protocol) : linux_type_(linux_type), protocol_(protocol) {}
  ~NetlinkSocket() override {
    detach_watchers();
    drop_all(queue_);
    release_port();
  }

  net::Family family() const override { return net::Family::Netlink; }
  net::SockType type() const override { return net::SockType::Dgram; }
  int protocol() const { return protocol_; }
  int linux_type() const { return linux_type_; }

  Result<void> bind(const net::Address& a) override;
  Result<void> connect(const net::Address& a, bool nonblock, const net::Creds& me) override;
  Result<size_t> sendmsg(net::SendMsg& m) override;
  Result<size_t> recvmsg(net::RecvMsg& m) override;
  Result<int> get_option(net::SockOpt o) override;
  Result<void> set_option(net::SockOpt o, int value) override;
  Result<void> name(net::Address& out) override;
  Result<void> peer_name(net::Address& out) override;
  size_t bytes_readable() override;
  size_t bytes_unsent() override { return 0; }
  void close() override;
  uint32_t poll_events() override;

  Result<void> set_nl_option(int optname, int value);
  Result<int> get_nl_option(int optname);

 private:
  static constexpr size_t N_OPTS = size_t(net::SockOpt::KeepCnt) + 1;

  Result<void> take_port(uint32_t want) REQUIRES(mu_);
  Result<void> autobind() REQUIRES(mu_);
  void release_port();
  Result<void> run(const uint8_t* buf, size_t len, DatagramList& out);

  const int linux_type_;
  const int protocol_;
  Mutex mu_;
  event::WaitList read_wait_;
  DatagramList queue_ GUARDED_BY(mu_);
  size_t queued_ GUARDED_BY(mu_) = 0;
  Port* port_ GUARDED_BY(mu_) = nullptr;  // bound: the port id
  uint32_t groups_ GUARDED_BY(mu_) = 0;   // multicast groups 1..32 (bind, NETLINK_ADD_MEMBERSHIP)
  uint32_t dst_pid_ GUARDED_BY(mu_) = 0, dst_groups_ GUARDED_BY(mu_) = 0;  // connect
  uint32_t nl_flags_ GUARDED_BY(mu_) = 0;  // 1 << NETLINK_* option
  int opts_[N_OPTS] GUARDED_BY(mu_) = {};
  bool closed_ GUARDED_BY(mu_) = false;
};

// The answers of one sendmsg, in datagrams.
class QueueSink final : public netlink::Sink {
 public:
  explicit QueueSink(DatagramList& out) : out_(out) {}
  Result<void> add(const netlink::Message& m) override {
    if (m.overflowed()) return {};
    Datagram* d = out_.back();
    if (!d || !open_ || d->len + m.size() > DATAGRAM) {
      d = new (std::nothrow) Datagram;
      if (!d) return Error::NoMemory;
      size_t cap = m.size() > DATAGRAM ? m.size() : DATAGRAM;
      d->data = static_cast<uint8_t*>(kmalloc(cap));
      if (!d->data) {
        delete d;
        return Error::NoMemory;
      }
      out_.push_back(*d);
      open_ = true;
    }
    __builtin_memcpy(d->data + d->len, m.data(), m.size());
    d->len += m.size();
    return {};
  }
  // The next message starts a new datagram (each request's answers are
  // their own datagrams, as Linux sends them).
  void end() { open_ = false; }

 private:
  DatagramList& out_;
  bool open_ = false;
};

Result<void> NetlinkSocket::take_port(uint32_t want) {
  auto* p = new (std::nothrow) Port;
  if (!p) return Error::NoMemory;
  SpinGuard g(g_ports_lock);
  if (want == 0) {
    uint32_t pid = uint32_t(cur_process().pid);
    want = pid;
    while (port_taken(want)) {
      want = uint32_t(g_rover);
      g_rover = g_rover == INT32_MIN ? -4097 : g_rover - 1;
    }
  } else if (port_taken(want)) {
    delete p;
    return Error::AddrInUse;
  }
  p->id = want;
  g_ports.push_back(*p);
  port_ = p;
  return {};
}

Result<void> NetlinkSocket::autobind() { return port_ ? Result<void>() : take_port(0); }

void NetlinkSocket::release_port() {
  Port* p;
  {
    Hold<Mutex> g(mu_);
    p = port_;
    port_ = nullptr;
  }
  if (!p) return;
  {
    SpinGuard g(g_ports_lock);
    g_ports.remove(*p);
  }
  delete p;
}

// netlink_bind: a port id of 0 asks for one; binding again must name the
// same one (EINVAL); a taken one is EADDRINUSE.
Result<void> NetlinkSocket::bind(const net::Address& a) {
  uint32_t pid, groups;
  __builtin_memcpy(&pid, a.data, 4);
  __builtin_memcpy(&groups, a.data + 4, 4);
  Hold<Mutex> g(mu_);
  if (port_) {
    if (pid && pid != port_->id) return Error::Invalid;
  } else {
    TRY(take_port(pid));
  }
  groups_ = groups;
  return {};
}

// netlink_connect: AF_UNSPEC (an empty address) dissolves it; binds if
// needed.
Result<void> NetlinkSocket::connect(const net::Address& a, bool, const net::Creds&) {
  Hold<Mutex> g(mu_);
  if (a.len == 0) {
    dst_pid_ = dst_groups_ = 0;
    return {};
  }
  __builtin_memcpy(&dst_pid_, a.data, 4);
  __builtin_memcpy(&dst_groups_, a.data + 4, 4);
  return autobind();
}

// netlink_rcv_skb: every whole message of the buffer in turn. A header
// shorter than 16 bytes or longer than what is left ends the buffer
// silently; a message that is not a request, or a control message, is
// only acknowledged (when asked); a failed request is answered with
// NLMSG_ERROR whether or not it asked for an ack.
Result<void> NetlinkSocket::run(const uint8_t* buf, size_t len, DatagramList& out) {
  uint32_t portid, flags;
  {
    Hold<Mutex> g(mu_);
    portid = port_->id;
    flags = nl_flags_;
  }
  QueueSink sink(out);
  const bool net_admin = current_capable(L_CAP_NET_ADMIN);
  size_t off = 0;
  netlink::Request r;
  while (netlink::next_request(buf, len, &off, &r.hdr, &r.payload, &r.len)) {
    r.portid = portid;
    r.net_admin = net_admin;
    Result<void> err;
    bool dump = false;
    if ((r.hdr.flags & netlink::NLM_F_REQUEST) && r.hdr.type >= netlink::NLMSG_MIN_TYPE) {
      if (protocol_ == NETLINK_ROUTE) err = netlink::route_request(r, sink, &dump);
      else err = Error::OpNotSupported;
      if (err.error() == Error::NoMemory) return Error::NoMemory;
    }
    if (dump) {
      // The last part carries NLMSG_DONE (its payload: the int 0).
      netlink::Message done(netlink::NLMSG_DONE, netlink::NLM_F_MULTI, r);
      int32_t zero = 0;
      done.put(&zero, sizeof zero);
      TRY(sink.add(done));
      sink.end();
    } else if (!err.ok() || (r.hdr.flags & netlink::NLM_F_ACK)) {
      sink.end();  // the answer and its ack are datagrams of their own
      // struct nlmsgerr: the error (negative errno, 0 for an ack) and the
      // request's header, its payload too for an error unless
      // NETLINK_CAP_ACK.
      const bool capped = err.ok() || (flags & (1u << NETLINK_CAP_ACK));
      netlink::Message ack(netlink::NLMSG_ERROR, capped ? netlink::NLM_F_CAPPED : 0, r);
      int32_t e = err.ok() ? 0 : -int32_t(errno_of(err.error()));
      ack.put(&e, sizeof e);
      ack.put(&r.hdr, sizeof r.hdr);
      if (!capped) ack.put(r.payload, r.len < netlink::Message::MAX - 64 ? r.len : 0);
      TRY(sink.add(ack));
      sink.end();
    } else {
      sink.end();
    }
  }
  return {};
}

// netlink_sendmsg: the destination is the kernel (port 0) unless named or
// connected otherwise; there are no other listeners to deliver to
// (ECONNREFUSED). A message larger than the send buffer is EMSGSIZE.
Result<size_t> NetlinkSocket::sendmsg(net::SendMsg& m) {
  uint32_t dst;
  int sndbuf;
  {
    Hold<Mutex> g(mu_);
    if (m.files.size()) return Error::OpNotSupported;
    dst = dst_pid_;
    if (m.to) __builtin_memcpy(&dst, m.to->data, 4);
    TRY(autobind());
    sndbuf = opts_[size_t(net::SockOpt::SndBuf)] ? opts_[size_t(net::SockOpt::SndBuf)] : DEFAULT_BUF;
  }
  const size_t len = m.data.size();
  if (len > size_t(sndbuf) - 32) return Error::MessageSize;
  if (dst != 0) return Error::ConnRefused;
  uint8_t* buf = static_cast<uint8_t*>(kmalloc(len ? len : 1));
  if (!buf) return Error::NoMemory;
  auto c = m.data.copy_in(0, buf, len);
  if (!c) {
    kfree(buf);
    return c.error();
  }
  DatagramList out;
  auto r = run(buf, len, out);
  kfree(buf);
  if (!r) {
    drop_all(out);
    return r.error();
  }
  bool any = !out.empty();
  {
    Hold<Mutex> g(mu_);
    while (Datagram* d = out.pop_front()) {
      queued_ += d->len;
      queue_.push_back(*d);
    }
  }
  if (any) {
    read_wait_.wake_all();
    notify(POLL_IN | POLL_RDNORM);
  }
  return len;
}

// netlink_recvmsg: one datagram per call; cut to the buffer (MSG_TRUNC
// out; with MSG_TRUNC in, the datagram's real length is returned), kept
// with MSG_PEEK. The sender is the kernel: port 0.
Result<size_t> NetlinkSocket::recvmsg(net::RecvMsg& m) {
  const uint64_t dl = deadline(false, uptime_ns());  // SO_RCVTIMEO
  Hold<Mutex> g(mu_);
  while (queue_.empty()) {
    if (closed_) return size_t(0);
    if (m.nonblock) return Error::Again;
    WaitTag tag("netlink recv", this);
    if (auto w = read_wait_.wait(mu_, dl); !w) return net::timeout_is_again(w.error());
  }
  Datagram* d = queue_.front();
  size_t n = d->len < m.data.size() ? d->len : m.data.size();
  if (n) TRY(m.data.copy_out(0, d->data, n));
  const size_t real = d->len;
  if (n < real) m.out_flags |= net::MsgFlags::TRUNC;
  if (!(m.flags & net::MsgFlags::PEEK)) {
    queue_.remove(*d);
    queued_ -= d->len;
    delete d;
  }
  m.from = net::Address{};
  m.from.family = net::Family::Netlink;
  m.from.len = 8;
  return (m.flags & net::MsgFlags::TRUNC) ? real : n;
}

Result<int> NetlinkSocket::get_option(net::SockOpt o) {
  Hold<Mutex> g(mu_);
  switch (o) {
    case net::SockOpt::SndBuf:
    case net::SockOpt::RcvBuf: return opts_[size_t(o)] ? opts_[size_t(o)] : DEFAULT_BUF;
    case net::SockOpt::PassCred:
    case net::SockOpt::ReuseAddr:
    case net::SockOpt::ReusePort:
    case net::SockOpt::KeepAlive:
    case net::SockOpt::Broadcast: return opts_[size_t(o)];
    case net::SockOpt::Linger: return opts_[size_t(o)] ? opts_[size_t(o)] - 1 : -1;
    case net::SockOpt::Error:
    case net::SockOpt::AcceptConn: return 0;
    default: return Error::NoProtoOpt;
  }
}

Result<void> NetlinkSocket::set_option(net::SockOpt o, int value) {
  Hold<Mutex> g(mu_);
  switch (o) {
    case net::SockOpt::SndBuf:
    case net::SockOpt::RcvBuf: opts_[size_t(o)] = value; return {};
    case net::SockOpt::PassCred:
    case net::SockOpt::ReuseAddr:
    case net::SockOpt::ReusePort:
    case net::SockOpt::KeepAlive:
    case net::SockOpt::Broadcast: opts_[size_t(o)] = value != 0; return {};
    case net::SockOpt::Linger: opts_[size_t(o)] = value + 1; return {};
    default: return Error::NoProtoOpt;
  }
}

// sockaddr_nl: the port id (0 until bound) and the groups.
Result<void> NetlinkSocket::name(net::Address& out) {
  Hold<Mutex> g(mu_);
  out = net::Address{};
  out.family = net::Family::Netlink;
  out.len = 8;
  uint32_t id = port_ ? port_->id : 0;
  __builtin_memcpy(out.data, &id, 4);
  __builtin_memcpy(out.data + 4, &groups_, 4);
  return {};
}

Result<void> NetlinkSocket::peer_name(net::Address& out) {
  Hold<Mutex> g(mu_);
  out = net::Address{};
  out.family = net::Family::Netlink;
  out.len = 8;
  __builtin_memcpy(out.data, &dst_pid_, 4);
  __builtin_memcpy(out.data + 4, &dst_groups_, 4);
  return {};
}

size_t NetlinkSocket::bytes_readable() {
  Hold<Mutex> g(mu_);
  return queued_;
}

void NetlinkSocket::close() {
  DatagramList drop;
  {
    Hold<Mutex> g(mu_);
    closed_ = true;
    while (Datagram* d = queue_.pop_front()) drop.push_back(*d);
    queued_ = 0;
  }
  drop_all(drop);
  release_port();
  read_wait_.wake_all();
}

uint32_t NetlinkSocket::poll_events() {
  Hold<Mutex> g(mu_);
  uint32_t ev = POLL_OUT | POLL_WRNORM;
  if (!queue_.empty()) ev |= POLL_IN | POLL_RDNORM;
  return ev;
}

// netlink_setsockopt: an int (a shorter value reads as 0); the
// memberships take a group number 1..32 (EINVAL otherwise).
Result<void> NetlinkSocket::set_nl_option(int optname, int value) {
  Hold<Mutex> g(mu_);
  switch (optname) {
    case NETLINK_ADD_MEMBERSHIP:
    case NETLINK_DROP_MEMBERSHIP:
      if (value <= 0 || value > MAX_LINKS) return Error::Invalid;
      if (optname == NETLINK_ADD_MEMBERSHIP) groups_ |= 1u << (value - 1);
      else groups_ &= ~(1u << (value - 1));
      return {};
    default:
      if (!is_flag_option(optname)) return Error::NoProtoOpt;
      if (value) nl_flags_ |= 1u << optname;
      else nl_flags_ &= ~(1u << optname);
      return {};
  }
}

Result<int> NetlinkSocket::get_nl_option(int optname) {
  if (!is_flag_option(optname)) return Error::NoProtoOpt;
  Hold<Mutex> g(mu_);
  return int((nl_flags_ >> optname) & 1);
}

NetlinkSocket& as_netlink(net::Socket& s) { return static_cast<NetlinkSocket&>(s); }

}  // namespace

Result<net::SocketRef> netlink_socket(int type, int protocol) {
  if (type != L_SOCK_RAW && type != L_SOCK_DGRAM) return Error::SockTypeNotSupported;
  if (protocol < 0 || protocol >= MAX_LINKS) return Error::ProtoNotSupported;
  if (protocol != NETLINK_ROUTE) return Error::ProtoNotSupported;
  auto* s = new (std::nothrow) NetlinkSocket(type, protocol);
  if (!s) return Error::NoMemory;
  return net::SocketRef::adopt(s);
}

Result<void> parse_netlink_addr(const uint8_t* buf, size_t len, net::Address& a) {
  if (len < SOCKADDR_NL) return Error::Invalid;
  if ((buf[0] | buf[1] << 8) != L_AF_NETLINK) return Error::Invalid;
  a = net::Address{};
  a.family = net::Family::Netlink;
  a.len = 8;
  __builtin_memcpy(a.data, buf + 4, 8);  // nl_pid, nl_groups
  return {};
}

size_t encode_netlink_addr(const net::Address& a, uint8_t* buf) {
  __builtin_memset(buf, 0, SOCKADDR_NL);
  buf[0] = uint8_t(L_AF_NETLINK);
  __builtin_memcpy(buf + 4, a.data, 8);
  return SOCKADDR_NL;
}

int netlink_protocol(net::Socket& s) { return as_netlink(s).protocol(); }
int netlink_sock_type(net::Socket& s) { return as_netlink(s).linux_type(); }

Result<void> netlink_setsockopt(net::Socket& s, int optname, int value) {
  return as_netlink(s).set_nl_option(optname, value);
}

Result<int> netlink_getsockopt(net::Socket& s, int optname) { return as_netlink(s).get_nl_option(optname); }

}  // namespace capsule::linux_abi
