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
// socket's exact match scores above a bound address, above the wildcard
// (Linux's compute_score, in spirit).
UdpRef find_socket(Ipv4 dst, uint16_t dport, Ipv4 src, uint16_t sport) {
  UdpSocket* s = static_cast<UdpSocket*>(g_ports.lookup(
      dport,
      [&](Binding& b) {
        int score = 1;
        if (!b.addr.any()) {
          if (b.addr != dst) return 0;
          score += 2;
        }
        if (b.rport) {
          if (b.raddr != src || b.rport != sport) return 0;
          score += 4;
        }
        return score;
      },
      [](void* o) { static_cast<UdpSocket*>(o)->retain(); }));
  return UdpRef::adopt(s);
}

}  // namespace

UdpDatagram::~UdpDatagram() { kfree(data); }

UdpSocket::~UdpSocket() { detach_watchers(); }

Result<void> UdpSocket::autobind_locked() {
  if (binding_.linked) return {};
  binding_.addr = IPV4_ANY;
  binding_.port = 0;
  return g_ports.bind(binding_);
}

Result<void> UdpSocket::bind(const Address& a) {
  Ipv4 ip = inet_ip(a);
  uint16_t port = inet_port(a);
  // bind(2) to an address not this host's: EADDRNOTAVAIL (ip(7)), unless
  // it is the wildcard or a broadcast.
  if (!ip.any() && !ip.broadcast() && !is_local_addr(ip)) return Error::AddrNotAvail;
  Hold<Mutex> g(mu_);
  if (closed_ || binding_.linked) return Error::Invalid;
  binding_.addr = ip;
  binding_.port = port;
  Result<void> r = g_ports.bind(binding_);
  if (!r.ok()) {
    binding_.addr = IPV4_ANY, binding_.port = 0;
    return r;
  }
  user_addr_ = !ip.any();
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
    binding_.raddr = IPV4_ANY;
    binding_.rport = 0;
    if (!user_addr_) binding_.addr = IPV4_ANY;
    if (!user_port_) binding_.port = 0;
    if (binding_.port) (void)g_ports.bind(binding_);
    return {};
  }
  Ipv4 dst = inet_ip(a);
  if (dst.any()) dst = IPV4_LOOPBACK;  // connect to 0.0.0.0 means this host (Linux)
  TRY(route_lookup(dst));  // ENETUNREACH before anything changes
  Hold<Mutex> g(mu_);
  if (closed_) return Error::Invalid;
  // The binding moves to the connected lookup (a relink keeps the port).
  const bool was = binding_.linked;
  g_ports.unbind(binding_);
  const Ipv4 old_addr = binding_.addr, old_raddr = binding_.raddr;
  const uint16_t old_port = binding_.port, old_rport = binding_.rport;
  binding_.raddr = dst;
  binding_.rport = inet_port(a);
  if (!was) binding_.addr = IPV4_ANY, binding_.port = 0;
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
  Ipv4 dst, src;
  uint16_t dport, sport;
  {
    Hold<Mutex> g(mu_);
    if (snd_shut_) return Error::BrokenPipe;
    if (m.to && m.to->len) {
      dst = inet_ip(*m.to);
      dport = inet_port(*m.to);
      if (dport == 0) return Error::Invalid;  // udp_sendmsg: EINVAL for port 0
    } else {
      if (!connected_) return Error::DestAddrRequired;
      dst = binding_.raddr;
      dport = binding_.rport;
    }
    if (len > MAX_PAYLOAD) return Error::MessageSize;
    TRY(autobind_locked());
    src = binding_.addr;
    sport = binding_.port;
  }
  if (dst.any()) dst = IPV4_LOOPBACK;
  if (dst.broadcast() && !broadcast_.load(std::memory_order_relaxed)) return Error::AccessDenied;  // EACCES without SO_BROADCAST
  if (src.any() || src.broadcast()) {
    Route r = TRY(route_lookup(dst));
    src = r.src;
  }
  PacketBuf pkt = TRY(PacketBuf::alloc(UDP_HEADER + len));
  uint8_t* p = pkt.data();
  TRY(m.data.copy_in(0, p + UDP_HEADER, len));
  store16(p, sport);
  store16(p + 2, dport);
  store16(p + 4, uint16_t(UDP_HEADER + len));
  store16(p + 6, 0);
  uint16_t c = csum_fold(csum_add(csum_pseudo(src.v, dst.v, IPPROTO_UDP_, uint16_t(UDP_HEADER + len)), p, UDP_HEADER + len));
  store16(p + 6, c ? c : 0xffff);  // RFC 768: a computed zero is sent as all ones
  g_out_datagrams.fetch_add(1, std::memory_order_relaxed);
  TRY(ip_output(static_cast<PacketBuf&&>(pkt), src, dst, IPPROTO_UDP_, uint8_t(ttl_.load(std::memory_order_relaxed)),
                uint8_t(tos_.load(std::memory_order_relaxed))));
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
    inet_address(m.from, d->from, d->from_port);
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

void UdpSocket::deliver(Ipv4 from, uint16_t from_port, const uint8_t* data, size_t len) {
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
    default: return Error::NoProtoOpt;
  }
}

bool UdpSocket::proc_info(InetSockInfo& out) {
  Hold<Mutex> g(mu_);
  if (!binding_.linked) return false;
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
  Ipv4 a = binding_.addr;
  if (connected_ && a.any()) {
    auto r = route_lookup(binding_.raddr);
    if (r.ok()) a = r.value().src;  // the source a connected socket uses
  }
  inet_address(out, a, binding_.port);
  return {};
}

Result<void> UdpSocket::peer_name(Address& out) {
  Hold<Mutex> g(mu_);
  if (!connected_) return Error::NotConnected;
  inet_address(out, binding_.raddr, binding_.rport);
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

void udp_input(Netif& nif, const Ipv4Header& h, PacketBuf pkt) {
  UdpHeader u;
  if (udp_parse(pkt.data(), pkt.size(), h.src, h.dst, u) != UdpDrop::None) {
    g_in_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  UdpRef s = find_socket(h.dst, u.dport, h.src, u.sport);
  if (!s) {
    g_no_ports.fetch_add(1, std::memory_order_relaxed);
    if (!h.dst.broadcast()) {
      uint8_t* orig = pkt.push(h.header_len);
      if (orig) icmp_send_unreachable(h, orig, pkt.size(), ICMP_PORT_UNREACH);
    }
    return;
  }
  g_in_datagrams.fetch_add(1, std::memory_order_relaxed);
  s->deliver(h.src, u.sport, u.data, u.len);
}

void udp_icmp_error(const Ipv4Header& q, const uint8_t* l4, Error e) {
  // The quoted datagram went from q.src:sport (us) to q.dst:dport.
  uint16_t sport = load16(l4), dport = load16(l4 + 2);
  UdpRef s = find_socket(q.src, sport, q.dst, dport);
  if (s) s->icmp_error(e);
}

}  // namespace capsule::net
