// UDP (net/inet/udp_socket.h; RFC 768, udp(7)).
#include <new>

#include "core/mm.h"
#include "core/thread.h"
#include "core/time.h"
#include "net/byte_order.h"
#include "net/inet/checksum.h"
#include "net/inet/ip.h"
#include "net/inet/udp_header.h"
#include "net/inet/udp_socket.h"

namespace capsule::net {

using event::Hold;

namespace {

constexpr uint32_t READABLE = POLL_IN | POLL_RDNORM;
constexpr uint32_t WRITABLE = POLL_OUT | POLL_WRNORM | POLL_WRBAND;

PortTable g_ports;
std::atomic<uint64_t> g_in_datagrams{0}, g_no_ports{0}, g_in_errors{0}, g_rcvbuf_errors{0}, g_out_datagrams{0};

using UdpRef = RefPtr<UdpSocket>;

// The socket for a datagram to dst:dport from src:sport: a connected
// socket's exact match scores above a bound address, above the wildcard,
// and a socket of the datagram's family alone above a dual-stack one
// (Linux's compute_score, in spirit).
UdpRef find_socket(const IpAddr& dst, uint16_t dport, const IpAddr& src, uint16_t sport) {
  UdpSocket* s = static_cast<UdpSocket*>(g_ports.lookup(
      dport,
      [&](Binding& b) {
        if (!b.takes(dst)) return 0;
        int score = 2;
        if (!b.addr.wildcard()) score += 4;
        if (b.exact_family(dst)) score += 1;
        if (b.rport) {
          if (b.raddr != src || b.rport != sport) return 0;
          score += 8;
        }
        return score;
      },
      [](void* o) { static_cast<UdpSocket*>(o)->retain(); }));
  return UdpRef::adopt(s);
}

}  // namespace

UdpDatagram::~UdpDatagram() { kfree(data); }

UdpSocket::~UdpSocket() { detach_watchers(); }

void UdpSocket::set_families_locked() {
  // An AF_INET6 socket takes IPv4 too unless IPV6_V6ONLY (ipv6(7)).
  binding_.v4 = family_ == Family::Inet || !v6only_;
  binding_.v6 = family_ == Family::Inet6;
}

Result<void> UdpSocket::autobind_locked() {
  if (binding_.linked) return {};
  binding_.addr = IP6_ANY;
  binding_.port = 0;
  set_families_locked();
  return g_ports.bind(binding_);
}

Result<void> UdpSocket::bind(const Address& a) {
  IpAddr ip = inet_ipaddr(a);
  uint16_t port = inet_port(a);
  // bind(2) to an address not this host's: EADDRNOTAVAIL (ip(7)), unless
  // it is the wildcard or a broadcast.
  if (!ip.wildcard() && !(ip.is_v4() && ip.v4() == 0xffffffffu) && !is_local_addr6(ip)) return Error::AddrNotAvail;
  if (ip.wildcard()) ip = IP6_ANY;
  Hold<Mutex> g(mu_);
  if (closed_ || binding_.linked) return Error::Invalid;
  // inet6_bind: a v4-mapped address on a V6ONLY socket is EINVAL.
  if (family_ == Family::Inet6 && ip.is_v4() && v6only_) return Error::Invalid;
  binding_.addr = ip;
  binding_.port = port;
  set_families_locked();
  Result<void> r = g_ports.bind(binding_);
  if (!r.ok()) {
    binding_.addr = IP6_ANY, binding_.port = 0;
    return r;
  }
  user_addr_ = !ip.wildcard();
  user_port_ = port != 0;
  return r;
}

Result<void> UdpSocket::connect(const Address& a, bool, const Creds&) {
  if (a.len == 0) {
    // AF_UNSPEC: dissolve the association. A port or address the
    // program did not choose goes back (__udp_disconnect's
    // SOCK_BINDPORT_LOCK / SOCK_BINDADDR_LOCK).
    Hold<Mutex> g(mu_);
    connected_ = false;
    g_ports.unbind(binding_);
    binding_.raddr = IP6_ANY;
    binding_.rport = 0;
    if (!user_addr_) binding_.addr = IP6_ANY;
    if (!user_port_) binding_.port = 0;
    if (binding_.port) (void)g_ports.bind(binding_);
    return {};
  }
  IpAddr dst = inet_ipaddr(a);
  if (a.family == Family::Inet && dst.any()) dst = IpAddr::mapped(0);
  if (dst.wildcard()) dst = inet_this_host(dst);  // connect to 0.0.0.0 or :: means this host (Linux)
  {
    Hold<Mutex> g(mu_);
    // ip6_datagram_connect: a v4-mapped peer of a V6ONLY socket.
    if (dst.is_v4() && family_ == Family::Inet6 && v6only_) return Error::NetUnreach;
  }
  TRY(inet_route(dst, a.family == Family::Inet6 ? inet6_scope(a) : 0));  // ENETUNREACH before anything changes
  Hold<Mutex> g(mu_);
  if (closed_) return Error::Invalid;
  // The binding moves to the connected lookup (a relink keeps the port).
  const bool was = binding_.linked;
  g_ports.unbind(binding_);
  const IpAddr old_addr = binding_.addr, old_raddr = binding_.raddr;
  const uint16_t old_port = binding_.port, old_rport = binding_.rport;
  binding_.raddr = dst;
  binding_.rport = inet_port(a);
  if (!was) binding_.addr = IP6_ANY, binding_.port = 0, set_families_locked();
  Result<void> b = g_ports.bind(binding_);
  if (!b.ok()) {
    binding_.raddr = old_raddr, binding_.rport = old_rport, binding_.port = old_port, binding_.addr = old_addr;
    if (was) (void)g_ports.bind(binding_);
    return b.error();
  }
  connected_ = true;
  err_ = Error::None;
  return {};
}

Result<void> UdpSocket::shutdown(Shut how) {
  Hold<Mutex> g(mu_);
  // Linux: shutdown on a UDP socket that is not connected is ENOTCONN.
  if (!connected_) return Error::NotConnected;
  if (uint8_t(how) & uint8_t(Shut::Read)) rcv_shut_ = true;
  if (uint8_t(how) & uint8_t(Shut::Write)) snd_shut_ = true;
  read_wait_.wake_all();
  notify(POLL_ALL);
  return {};
}

Result<size_t> UdpSocket::sendmsg(SendMsg& m) {
  const size_t len = m.data.size();
  IpAddr dst, src;
  uint16_t dport, sport;
  uint32_t scope = 0;
  {
    Hold<Mutex> g(mu_);
    if (snd_shut_) return Error::BrokenPipe;
    if (m.to && m.to->len) {
      dst = inet_ipaddr(*m.to);
      if (m.to->family == Family::Inet && dst.any()) dst = IpAddr::mapped(0);
      if (m.to->family == Family::Inet6) scope = inet6_scope(*m.to);
      dport = inet_port(*m.to);
      // udpv6_sendmsg: a v4-mapped destination of a V6ONLY socket.
      if (dst.is_v4() && family_ == Family::Inet6 && v6only_) return Error::NetUnreach;
      if (dport == 0) return Error::Invalid;  // udp_sendmsg: EINVAL for port 0
    } else {
      if (!connected_) return Error::DestAddrRequired;
      dst = binding_.raddr;
      dport = binding_.rport;
    }
    if (len > (dst.is_v4() ? MAX_PAYLOAD : MAX_PAYLOAD6)) return Error::MessageSize;
    TRY(autobind_locked());
    src = binding_.addr;
    sport = binding_.port;
  }
  if (dst.wildcard()) dst = inet_this_host(dst);
  const bool bcast = dst.is_v4() && dst.v4() == 0xffffffffu;
  if (bcast && !broadcast_.load(std::memory_order_relaxed)) return Error::AccessDenied;  // EACCES without SO_BROADCAST
  if (src.wildcard() || (src.is_v4() && src.v4() == 0xffffffffu)) {
    src = TRY(inet_route(dst, scope)).src;
  } else if (src.is_v4() != dst.is_v4()) {
    return Error::NetUnreach;  // a socket bound to one family's address sending to the other's
  }
  PacketBuf pkt = TRY(PacketBuf::alloc(UDP_HEADER + len));
  uint8_t* p = pkt.data();
  TRY(m.data.copy_in(0, p + UDP_HEADER, len));
  store16(p, sport);
  store16(p + 2, dport);
  store16(p + 4, uint16_t(UDP_HEADER + len));
  store16(p + 6, 0);
  uint16_t c = csum_fold(csum_add(csum_pseudo_ip(src, dst, IPPROTO_UDP_, uint32_t(UDP_HEADER + len)), p, UDP_HEADER + len));
  store16(p + 6, c ? c : 0xffff);  // RFC 768, RFC 8200 8.1: a computed zero is sent as all ones
  g_out_datagrams.fetch_add(1, std::memory_order_relaxed);
  TRY(inet_output(static_cast<PacketBuf&&>(pkt), src, dst, IPPROTO_UDP_, uint8_t(ttl_.load(std::memory_order_relaxed)),
                  uint8_t(tos_.load(std::memory_order_relaxed)), scope));
  return len;
}

Result<size_t> UdpSocket::recvmsg(RecvMsg& m) {
  const uint64_t dl = deadline(false, uptime_ns());  // SO_RCVTIMEO
  UdpDatagram* d = nullptr;
  size_t n, real;
  {
    Hold<Mutex> g(mu_);
    for (;;) {
      if (err_ != Error::None) {
        Error e = err_;
        err_ = Error::None;
        return e;  // a pending ICMP error comes out of the next receive (sock_error)
      }
      if (!queue_.empty()) break;
      if (rcv_shut_ || closed_) return size_t(0);
      if (m.nonblock) return Error::Again;
      WaitTag tag("udp recv", this);
      if (auto w = read_wait_.wait(mu_, dl); !w) return timeout_is_again(w.error());
    }
    d = queue_.front();
    real = d->len;
    n = real < m.data.size() ? real : m.data.size();
    TRY(m.data.copy_out(0, d->data, n));
    inet_name(m.from, family_, d->from, d->from_port, d->scope);
    if (real > m.data.size()) m.out_flags |= MsgFlags::TRUNC;
    if (m.flags & MsgFlags::PEEK) {
      d = nullptr;
    } else {
      queue_.pop_front();
      charged_ -= real + OVERHEAD;
    }
  }
  delete d;
  // MSG_TRUNC asks for the datagram's real length (udp(7)).
  return (m.flags & MsgFlags::TRUNC) ? real : n;
}

void UdpSocket::deliver(const IpAddr& from, uint16_t from_port, uint32_t scope, const uint8_t* data, size_t len) {
  auto* d = new (std::nothrow) UdpDatagram;
  if (d && len) d->data = static_cast<uint8_t*>(kmalloc(len));
  if (!d || (len && !d->data)) {
    delete d;
    g_rcvbuf_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (len) __builtin_memcpy(d->data, data, len);
  d->len = len;
  d->from = from;
  d->from_port = from_port;
  d->scope = scope;
  Hold<Mutex> g(mu_);
  // A full receive buffer drops the datagram (udp(7): SO_RCVBUF).
  if (closed_ || rcv_shut_ || charged_ + len + OVERHEAD > size_t(rcvbuf_.load(std::memory_order_relaxed))) {
    g_rcvbuf_errors.fetch_add(1, std::memory_order_relaxed);
    delete d;
    return;
  }
  queue_.push_back(*d);
  charged_ += len + OVERHEAD;
  read_wait_.wake_all();
  notify(READABLE);
}

void UdpSocket::icmp_error(Error e) {
  Hold<Mutex> g(mu_);
  // Without IP_RECVERR only a connected socket hears of errors (ip(7)).
  if (!connected_) return;
  err_ = e;
  read_wait_.wake_all();
  notify(POLL_ERR);
}

Result<int> UdpSocket::get_option(SockOpt o) {
  switch (o) {
    case SockOpt::SndBuf: return sndbuf_.load(std::memory_order_relaxed);
    case SockOpt::RcvBuf: return rcvbuf_.load(std::memory_order_relaxed);
    case SockOpt::ReuseAddr: {
      Hold<Mutex> g(mu_);
      return int(binding_.reuseaddr);
    }
    case SockOpt::ReusePort: {
      Hold<Mutex> g(mu_);
      return int(binding_.reuseport);
    }
    case SockOpt::Broadcast: return int(broadcast_.load(std::memory_order_relaxed));
    case SockOpt::Ttl: return ttl_.load(std::memory_order_relaxed);
    case SockOpt::Tos: return tos_.load(std::memory_order_relaxed);
    case SockOpt::PassCred: return 0;
    case SockOpt::KeepAlive: return 0;
    case SockOpt::Linger: return -1;
    case SockOpt::AcceptConn: return 0;
    case SockOpt::Error: {
      Hold<Mutex> g(mu_);
      Error e = err_;
      err_ = Error::None;
      return int(e);
    }
    case SockOpt::V6Only: {
      if (family_ != Family::Inet6) return Error::NoProtoOpt;
      Hold<Mutex> g(mu_);
      return int(v6only_);
    }
    default: return Error::NoProtoOpt;
  }
}

Result<void> UdpSocket::set_option(SockOpt o, int value) {
  switch (o) {
    case SockOpt::SndBuf: sndbuf_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::RcvBuf: rcvbuf_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::ReuseAddr: {
      Hold<Mutex> g(mu_);
      binding_.reuseaddr = value != 0;  // takes effect at the next bind
      return {};
    }
    case SockOpt::ReusePort: {
      Hold<Mutex> g(mu_);
      binding_.reuseport = value != 0;
      return {};
    }
    case SockOpt::Broadcast: broadcast_.store(value != 0, std::memory_order_relaxed); return {};
    case SockOpt::Ttl: ttl_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::Tos: tos_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::KeepAlive:
    case SockOpt::Linger:
    case SockOpt::PassCred: return {};
    case SockOpt::V6Only: {
      if (family_ != Family::Inet6) return Error::NoProtoOpt;
      Hold<Mutex> g(mu_);
      if (binding_.linked) return Error::Invalid;  // do_ipv6_setsockopt: not once bound
      v6only_ = value != 0;
      return {};
    }
    default: return Error::NoProtoOpt;
  }
}

bool UdpSocket::proc_info(InetSockInfo& out) {
  Hold<Mutex> g(mu_);
  if (!binding_.linked) return false;
  out.v6 = family_ == Family::Inet6;
  out.laddr = binding_.addr, out.lport = binding_.port, out.raddr = binding_.raddr, out.rport = binding_.rport;
  out.state = connected_ ? 1 : 7;  // TCP_ESTABLISHED once connected, else TCP_CLOSE (as udp4_format_sock)
  out.rx_queue = uint32_t(charged_);  // what the queue costs against SO_RCVBUF, as sk_rmem_alloc
  out.tx_queue = 0;                   // datagrams go down at once
  out.ino = closed_ ? 0 : ino();
  return true;
}

size_t udp_socket_list(InetSockInfo* out, size_t max) {
  UdpSocket** found = new (std::nothrow) UdpSocket*[max];
  if (!found) return 0;
  size_t k = 0, n = 0;
  g_ports.for_each([&](Binding& b) {
    if (k < max && static_cast<UdpSocket*>(b.owner)->try_retain()) found[k++] = static_cast<UdpSocket*>(b.owner);
  });
  for (size_t i = 0; i < k; ++i) {
    UdpSocket* s = found[i];
    if (s->proc_info(out[n])) ++n;
    s->release();
  }
  delete[] found;
  return n;
}

Result<void> UdpSocket::name(Address& out) {
  Hold<Mutex> g(mu_);
  IpAddr a = binding_.addr;
  if (connected_ && a.wildcard()) {
    auto r = inet_route(binding_.raddr);
    if (r.ok()) a = r.value().src;  // the source a connected socket uses
  }
  inet_name(out, family_, a, binding_.port);
  return {};
}

Result<void> UdpSocket::peer_name(Address& out) {
  Hold<Mutex> g(mu_);
  if (!connected_) return Error::NotConnected;
  inet_name(out, family_, binding_.raddr, binding_.rport);
  return {};
}

size_t UdpSocket::bytes_readable() {
  Hold<Mutex> g(mu_);
  // FIONREAD on UDP: the size of the next datagram (udp(7)).
  return queue_.empty() ? 0 : queue_.front()->len;
}

void UdpSocket::close() {
  IntrusiveList<UdpDatagram, &UdpDatagram::node> drop;
  {
    Hold<Mutex> g(mu_);
    closed_ = true;
    g_ports.unbind(binding_);
    while (UdpDatagram* d = queue_.pop_front()) drop.push_back(*d);
    charged_ = 0;
    read_wait_.wake_all();
  }
  while (UdpDatagram* d = drop.pop_front()) delete d;
}

uint32_t UdpSocket::poll_events() {
  Hold<Mutex> g(mu_);
  uint32_t ev = 0;
  if (!queue_.empty()) ev |= READABLE;
  if (err_ != Error::None) ev |= POLL_ERR;
  if (rcv_shut_) ev |= READABLE | POLL_RDHUP;
  if (rcv_shut_ && snd_shut_) ev |= POLL_HUP;
  if (!snd_shut_) ev |= WRITABLE;
  return ev;
}

// --- input --------------------------------------------------------------------------

void udp_input(Netif& nif, const IpMeta& m, PacketBuf pkt) {
  UdpHeader u;
  if (udp_parse(pkt.data(), pkt.size(), m.src, m.dst, u) != UdpDrop::None) {
    g_in_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  UdpRef s = find_socket(m.dst, u.dport, m.src, u.sport);
  if (!s) {
    g_no_ports.fetch_add(1, std::memory_order_relaxed);
    if (!m.dst.multi_or_broadcast()) {
      uint8_t* orig = pkt.push(m.header_len);
      if (orig && m.v4) icmp_send_unreachable(*m.v4, orig, pkt.size(), ICMP_PORT_UNREACH);
      if (orig && m.v6) icmp6_send_error(*m.v6, orig, pkt.size(), ICMP6_DEST_UNREACH, ICMP6_PORT_UNREACH, 0, m.nif);
    }
    return;
  }
  g_in_datagrams.fetch_add(1, std::memory_order_relaxed);
  s->deliver(m.src, u.sport, m.nif, u.data, u.len);
}

void udp_icmp_error(const IpAddr& qsrc, const IpAddr& qdst, const uint8_t* l4, Error e) {
  // The quoted datagram went from qsrc:sport (us) to qdst:dport.
  uint16_t sport = load16(l4), dport = load16(l4 + 2);
  UdpRef s = find_socket(qsrc, sport, qdst, dport);
  if (s) s->icmp_error(e);
}

}  // namespace capsule::net
