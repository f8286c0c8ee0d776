// Ping and raw ICMP sockets (net/inet/icmp_socket.h; Linux's
// net/ipv4/ping.c and raw(7) in behaviour, icmp(7)).
#include <new>

#include "arch/spinlock.h"
#include "core/mm.h"
#include "core/thread.h"
#include "core/time.h"
#include "net/byte_order.h"
#include "net/inet/checksum.h"
#include "net/inet/icmp_socket.h"
#include "net/inet/ip.h"

namespace capsule::net {

using event::Hold;

namespace {

constexpr uint32_t READABLE = POLL_IN | POLL_RDNORM;
constexpr uint32_t WRITABLE = POLL_OUT | POLL_WRNORM | POLL_WRBAND;
constexpr uint8_t ECHO = 8, ECHO6 = 128;
constexpr size_t ICMP_HEADER = 8;
constexpr size_t MAX_MESSAGE = 0xffff;  // ping_common_sendmsg, raw_sendmsg: EMSGSIZE above
constexpr size_t MAX_TAKERS = 64;       // sockets one message is delivered to

// Every ICMP socket; a ping socket's identifier is unique among its family's.
SpinLock g_lock;
IntrusiveList<IcmpSocket, &IcmpSocket::table_node> g_sockets GUARDED_BY(g_lock);
uint16_t g_rover GUARDED_BY(g_lock) = 0;  // the last identifier chosen (ping_port_rover)

bool ident_used_locked(Family f, uint16_t id, const IcmpSocket* self) REQUIRES(g_lock) {
  for (IcmpSocket& s : g_sockets)
    if (&s != self && s.family() == f && s.type() == SockType::Dgram && s.ident == id) return true;
  return false;
}

}  // namespace

IcmpMessage::~IcmpMessage() { kfree(data); }

IcmpSocket::~IcmpSocket() {
  {
    SpinGuard g(g_lock);
    if (table_node.linked()) g_sockets.remove(*this);
  }
  detach_watchers();
}

Socket* icmp_socket_new(Family f, bool raw) {
  auto* s = new (std::nothrow) IcmpSocket(f, raw);
  if (s && raw) {  // a raw socket reads from the start, bound or not (raw(7))
    SpinGuard g(g_lock);
    g_sockets.push_back(*s);
  }
  return s;
}

IcmpTaker IcmpSocket::taker() const {
  IcmpTaker t;
  t.v6 = family_ == Family::Inet6;
  t.raw = raw_;
  t.ident = ident;
  t.bound = bound;
  for (int i = 0; i < 8; ++i) t.filter[i] = filter_[i].load(std::memory_order_relaxed);
  return t;
}

Result<void> IcmpSocket::autobind() {
  SpinGuard g(g_lock);
  if (raw_ || ident) return {};
  // ping_get_port: the next free identifier after the last one, never 0.
  for (uint32_t i = 0; i < 0x10000; ++i) {
    uint16_t id = uint16_t(g_rover + 1 + i);
    if (!id || ident_used_locked(family_, id, this)) continue;
    g_rover = id;
    ident = id;
    if (!table_node.linked()) g_sockets.push_back(*this);
    return {};
  }
  return Error::AddrInUse;
}

Result<void> IcmpSocket::bind(const Address& a) {
  IpAddr ip = inet_ipaddr(a);
  if (family_ == Family::Inet && ip.any()) ip = IpAddr::mapped(0);
  // ping_check_bind_addr / raw_bind: an address of this host (or any).
  if (!ip.wildcard() && !is_local_addr6(ip)) return Error::AddrNotAvail;
  if (family_ == Family::Inet6 && ip.is_v4()) return Error::AddrNotAvail;
  const uint16_t port = raw_ ? 0 : inet_port(a);
  SpinGuard g(g_lock);
  if (raw_) {
    bound = ip;
    if (!table_node.linked()) g_sockets.push_back(*this);
    return {};
  }
  if (ident) return Error::Invalid;  // ping_bind: bound already
  // An identifier in use may be bound again: Linux's ping_get_port lets it
  // (its check reads inet_num, which a socket bound by port has not set).
  bound = ip;
  if (port) {
    ident = port;
    if (!table_node.linked()) g_sockets.push_back(*this);
    return {};
  }
  for (uint32_t i = 0; i < 0x10000; ++i) {
    uint16_t id = uint16_t(g_rover + 1 + i);
    if (!id || ident_used_locked(family_, id, this)) continue;
    g_rover = id;
    ident = id;
    if (!table_node.linked()) g_sockets.push_back(*this);
    return {};
  }
  return Error::AddrInUse;
}

Result<void> IcmpSocket::connect(const Address& a, bool, const Creds&) {
  IpAddr ip = inet_ipaddr(a);
  if (family_ == Family::Inet && ip.any()) ip = IpAddr::mapped(0);
  if (ip.wildcard()) ip = inet_this_host(ip);
  if (family_ == Family::Inet6 && ip.is_v4()) return Error::Invalid;
  TRY(inet_route(ip, a.family == Family::Inet6 ? inet6_scope(a) : 0));
  TRY(autobind());
  if (raw_) {
    SpinGuard g(g_lock);
    if (!table_node.linked()) g_sockets.push_back(*this);
  }
  Hold<Mutex> g(mu_);
  connected_ = true;
  peer_ = ip;
  peer_scope_ = a.family == Family::Inet6 ? inet6_scope(a) : 0;
  return {};
}

Result<void> IcmpSocket::shutdown(Shut how) {
  Hold<Mutex> g(mu_);
  if (!connected_) return Error::NotConnected;
  if (uint8_t(how) & uint8_t(Shut::Read)) rcv_shut_ = true;
  if (uint8_t(how) & uint8_t(Shut::Write)) snd_shut_ = true;
  read_wait_.wake_all();
  notify(READABLE | POLL_RDHUP);
  return {};
}

Result<size_t> IcmpSocket::sendmsg(SendMsg& m) {
  const size_t len = m.data.size();
  const bool v6 = family_ == Family::Inet6;
  // ping_common_sendmsg / raw_sendmsg: the size, then (ping) the header.
  if (len > MAX_MESSAGE) return Error::MessageSize;
  if (!raw_ && len < ICMP_HEADER) return Error::Invalid;
  const int csum_at = raw_ && v6 ? csum_offset_.load(std::memory_order_relaxed) : 2;
  if (raw_ && v6 && csum_at >= 0 && len < size_t(csum_at) + 2) return Error::Invalid;  // rawv6_push_pending_frames
  IpAddr dst;
  uint32_t scope = 0;
  if (m.to && m.to->len) {
    dst = inet_ipaddr(*m.to);
    if (!v6 && dst.any()) dst = IpAddr::mapped(0);
    if (v6) scope = inet6_scope(*m.to);
    if (v6 && dst.is_v4()) return Error::Invalid;  // ping_v6_sendmsg: no v4-mapped destination
  } else {
    Hold<Mutex> g(mu_);
    if (!connected_) return Error::DestAddrRequired;
    dst = peer_, scope = peer_scope_;
  }
  {
    Hold<Mutex> g(mu_);
    if (snd_shut_) return Error::BrokenPipe;
  }
  if (dst.wildcard()) dst = inet_this_host(dst);
  PacketBuf pkt = TRY(PacketBuf::alloc(len));
  uint8_t* p = pkt.data();
  TRY(m.data.copy_in(0, p, len));
  if (!raw_) {
    // Only echo requests, code 0 (ping_common_sendmsg's EINVAL).
    if (p[0] != (v6 ? ECHO6 : ECHO) || p[1] != 0) return Error::Invalid;
    TRY(autobind());
  }
  IpAddr src;
  {
    SpinGuard g(g_lock);
    src = bound;
    if (!raw_) store16(p + 4, ident);  // the kernel owns the identifier
  }
  if (src.wildcard()) src = TRY(inet_route(dst, scope)).src;
  if (!raw_ || (v6 && csum_at >= 0)) {
    // The kernel's checksum: ping's always, a raw ICMPv6 socket's at its
    // IPV6_CHECKSUM offset (RFC 3542 3.1).
    store16(p + csum_at, 0);
    uint16_t c = v6 ? csum_fold(csum_add(csum_pseudo6(src.b, dst.b, IP6_ICMPV6, uint32_t(len)), p, len))
                    : checksum(p, len);
    store16(p + csum_at, c);
  }
  TRY(inet_output(static_cast<PacketBuf&&>(pkt), src, dst, v6 ? IP6_ICMPV6 : IPPROTO_ICMP_,
                  uint8_t(ttl_.load(std::memory_order_relaxed)), uint8_t(tos_.load(std::memory_order_relaxed)), scope));
  return len;
}

Result<size_t> IcmpSocket::recvmsg(RecvMsg& m) {
  const uint64_t dl = deadline(false, uptime_ns());  // SO_RCVTIMEO
  IcmpMessage* d = nullptr;
  size_t n, real;
  {
    Hold<Mutex> g(mu_);
    for (;;) {
      if (!queue_.empty()) break;
      if (rcv_shut_ || closed_) return size_t(0);
      if (m.nonblock) return Error::Again;
      WaitTag tag("icmp recv", this);
      if (auto w = read_wait_.wait(mu_, dl); !w) return timeout_is_again(w.error());
    }
    d = queue_.front();
    real = d->len;
    n = real < m.data.size() ? real : m.data.size();
    TRY(m.data.copy_out(0, d->data, n));
    inet_name(m.from, family_, d->from, 0, d->scope);  // ping_recvmsg, raw_recvmsg: port 0
    if (recvttl_.load(std::memory_order_relaxed)) m.ttl = d->ttl;
    if (timestamp_.load(std::memory_order_relaxed)) m.stamp_ns = d->stamp_ns;
    if (real > m.data.size()) m.out_flags |= MsgFlags::TRUNC;
    if (m.flags & MsgFlags::PEEK) {
      d = nullptr;
    } else {
      queue_.pop_front();
      charged_ -= real + OVERHEAD;
    }
  }
  delete d;
  return (m.flags & MsgFlags::TRUNC) ? real : n;
}

void IcmpSocket::deliver(const IpAddr& from, uint32_t scope, uint8_t ttl, const uint8_t* head, size_t head_len,
                         const uint8_t* msg, size_t len) {
  auto* d = new (std::nothrow) IcmpMessage;
  const size_t total = head_len + len;
  if (d && total) d->data = static_cast<uint8_t*>(kmalloc(total));
  if (!d || (total && !d->data)) {
    delete d;
    return;
  }
  if (head_len) __builtin_memcpy(d->data, head, head_len);
  if (len) __builtin_memcpy(d->data + head_len, msg, len);
  d->len = total;
  d->from = from;
  d->scope = scope;
  d->ttl = ttl;
  d->stamp_ns = realtime_ns();
  Hold<Mutex> g(mu_);
  if (closed_ || rcv_shut_ || (connected_ && peer_ != from) ||
      charged_ + total + OVERHEAD > size_t(rcvbuf_.load(std::memory_order_relaxed))) {
    delete d;
    return;
  }
  queue_.push_back(*d);
  charged_ += total + OVERHEAD;
  read_wait_.wake_all();
  notify(READABLE);
}

Result<int> IcmpSocket::get_option(SockOpt o) {
  switch (o) {
    case SockOpt::SndBuf: return sndbuf_.load(std::memory_order_relaxed);
    case SockOpt::RcvBuf: return rcvbuf_.load(std::memory_order_relaxed);
    case SockOpt::Ttl: return ttl_.load(std::memory_order_relaxed);
    case SockOpt::Tos: return tos_.load(std::memory_order_relaxed);
    case SockOpt::RecvErr: return int(recverr_.load(std::memory_order_relaxed));
    case SockOpt::RecvTtl: return int(recvttl_.load(std::memory_order_relaxed));
    case SockOpt::RetOpts: return int(retopts_.load(std::memory_order_relaxed));
    case SockOpt::Timestamp: return int(timestamp_.load(std::memory_order_relaxed));
    case SockOpt::ChecksumOffset:
      if (!raw_ || family_ != Family::Inet6) return Error::NoProtoOpt;
      return csum_offset_.load(std::memory_order_relaxed);
    case SockOpt::PassCred:
    case SockOpt::KeepAlive:
    case SockOpt::ReuseAddr:
    case SockOpt::ReusePort:
    case SockOpt::Broadcast:
    case SockOpt::AcceptConn: return 0;
    case SockOpt::Linger: return -1;
    case SockOpt::Error: return 0;
    default: return Error::NoProtoOpt;
  }
}

Result<void> IcmpSocket::set_option(SockOpt o, int value) {
  switch (o) {
    case SockOpt::SndBuf: sndbuf_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::RcvBuf: rcvbuf_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::Ttl: ttl_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::Tos: tos_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::RecvErr: recverr_.store(value != 0, std::memory_order_relaxed); return {};
    case SockOpt::RecvTtl: recvttl_.store(value != 0, std::memory_order_relaxed); return {};
    case SockOpt::RetOpts: retopts_.store(value != 0, std::memory_order_relaxed); return {};
    case SockOpt::Timestamp: timestamp_.store(value != 0, std::memory_order_relaxed); return {};
    case SockOpt::ChecksumOffset:
      // do_rawv6_setsockopt: an odd offset is EINVAL, a negative one none.
      if (!raw_ || family_ != Family::Inet6) return Error::NoProtoOpt;
      if (value > 0 && (value & 1)) return Error::Invalid;
      csum_offset_.store(value < 0 ? -1 : value, std::memory_order_relaxed);
      return {};
    case SockOpt::PassCred:
    case SockOpt::KeepAlive:
    case SockOpt::ReuseAddr:
    case SockOpt::ReusePort:
    case SockOpt::Broadcast:
    case SockOpt::Linger: return {};
    default: return Error::NoProtoOpt;
  }
}

Result<void> IcmpSocket::set_filter(const uint32_t* words, size_t n) {
  if (!raw_) return Error::NoProtoOpt;
  const size_t want = family_ == Family::Inet6 ? 8 : 1;
  for (size_t i = 0; i < want; ++i) filter_[i].store(i < n ? words[i] : 0, std::memory_order_relaxed);
  return {};
}

Result<size_t> IcmpSocket::filter(uint32_t* out, size_t max) {
  if (!raw_) return Error::NoProtoOpt;
  const size_t want = family_ == Family::Inet6 ? 8 : 1;
  size_t n = want < max ? want : max;
  for (size_t i = 0; i < n; ++i) out[i] = filter_[i].load(std::memory_order_relaxed);
  return n;
}

Result<void> IcmpSocket::name(Address& out) {
  IpAddr a;
  uint16_t port;
  {
    SpinGuard g(g_lock);
    a = bound;
    port = raw_ ? uint16_t(protocol()) : ident;  // a raw socket's "port" is its protocol (inet_create)
  }
  {
    Hold<Mutex> g(mu_);
    if (connected_ && a.wildcard()) {
      auto r = inet_route(peer_, peer_scope_);
      if (r.ok()) a = r.value().src;
    }
  }
  if (family_ == Family::Inet && a.any()) a = IpAddr::mapped(0);
  inet_name(out, family_, a, port);
  return {};
}

Result<void> IcmpSocket::peer_name(Address& out) {
  Hold<Mutex> g(mu_);
  if (!connected_) return Error::NotConnected;
  inet_name(out, family_, peer_, 0, peer_scope_);
  return {};
}

size_t IcmpSocket::bytes_readable() {
  Hold<Mutex> g(mu_);
  return queue_.empty() ? 0 : queue_.front()->len;
}

void IcmpSocket::close() {
  IntrusiveList<IcmpMessage, &IcmpMessage::node> drop;
  {
    SpinGuard t(g_lock);
    if (table_node.linked()) g_sockets.remove(*this);
    ident = 0;
  }
  {
    Hold<Mutex> g(mu_);
    closed_ = true;
    while (IcmpMessage* d = queue_.pop_front()) drop.push_back(*d);
    charged_ = 0;
    read_wait_.wake_all();
  }
  while (IcmpMessage* d = drop.pop_front()) delete d;
}

uint32_t IcmpSocket::poll_events() {
  Hold<Mutex> g(mu_);
  uint32_t ev = 0;
  if (!queue_.empty()) ev |= READABLE;
  if (rcv_shut_) ev |= READABLE | POLL_RDHUP;
  if (rcv_shut_ && snd_shut_) ev |= POLL_HUP;
  if (!snd_shut_) ev |= WRITABLE;
  return ev;
}

void icmp_sockets_input(bool v6, const IpAddr& src, const IpAddr& dst, uint32_t scope, uint8_t ttl, const uint8_t* head,
                        size_t head_len, const uint8_t* msg, size_t len) {
  IcmpSocket* takers[MAX_TAKERS];
  size_t n = 0;
  {
    SpinGuard g(g_lock);
    for (IcmpSocket& s : g_sockets)
      if (n < MAX_TAKERS && icmp_takes(s.taker(), v6, msg, len, dst) && s.try_retain()) takers[n++] = &s;
  }
  for (size_t i = 0; i < n; ++i) {
    // A raw IPv4 socket reads the IP header too (raw(7)); ping sockets and
    // ICMPv6 the message alone.
    const bool with_head = !v6 && takers[i]->type() == SockType::Raw;
    takers[i]->deliver(src, scope, ttl, with_head ? head : nullptr, with_head ? head_len : 0, msg, len);
    takers[i]->release();
  }
}

}  // namespace capsule::net
