// TCP (net/inet/tcp_socket.h; RFC 793, RFC 1122 4.2, RFC 6298, RFC 7323;
// docs/net.md "TCP"): the connection state machine, the send and receive
// buffers with windows, retransmission, delayed ACK, Nagle, keepalive,
// TIME_WAIT, and the socket operations on top.
#include <new>

#include "core/random.h"
#include "core/thread.h"
#include "core/time.h"
#include "net/byte_order.h"
#include "net/inet/checksum.h"
#include "net/inet/tcp_seq.h"
#include "net/inet/tcp_socket.h"

namespace capsule::net {

using event::Hold;

namespace {

constexpr uint64_t MS = 1'000'000;
constexpr uint64_t SEC = 1'000'000'000;
constexpr uint64_t RTO_INITIAL = 1 * SEC;   // RFC 6298 2.1
constexpr uint64_t RTO_MIN = 200 * MS;      // Linux's TCP_RTO_MIN (RFC 6298 2.4 says 1 s)
constexpr uint64_t RTO_MAX = 120 * SEC;     // TCP_RTO_MAX
constexpr uint64_t DELAYED_ACK = 40 * MS;   // TCP_DELACK_MIN; RFC 1122 4.2.3.2: < 500 ms
constexpr uint64_t TIME_WAIT_LEN = 60 * SEC;  // 2 MSL, TCP_TIMEWAIT_LEN
constexpr uint64_t FIN_TIMEOUT = 60 * SEC;    // net.ipv4.tcp_fin_timeout
constexpr uint64_t CORK_CEILING = SEC / 5;  // TCP_CORK holds a partial segment at most 200 ms (tcp(7))
constexpr uint32_t SYN_RETRIES = 6;           // net.ipv4.tcp_syn_retries
constexpr uint32_t DATA_RETRIES = 15;         // net.ipv4.tcp_retries2
constexpr uint32_t READABLE = POLL_IN | POLL_RDNORM;
constexpr uint32_t WRITABLE = POLL_OUT | POLL_WRNORM | POLL_WRBAND;

PortTable g_ports;  // bound sockets and listeners
PortTable g_conns;  // connections by 4-tuple
std::atomic<uint64_t> g_active_opens{0}, g_passive_opens{0}, g_attempt_fails{0}, g_estab_resets{0},
    g_in_segs{0}, g_out_segs{0}, g_retrans_segs{0}, g_in_errs{0}, g_out_rsts{0};

// The receive window's scale: the smallest shift that lets the 16-bit
// field say the whole buffer (RFC 7323 2.3).
constexpr uint8_t rcv_scale_for(uint32_t buf) {
  uint8_t s = 0;
  while ((buf >> s) > 65535) ++s;
  return s;
}

uint32_t new_iss() {
  // RFC 6528: a clock plus a secret-keyed offset; a random offset per
  // connection is enough here (no two incarnations share a clock ordering).
  uint32_t r;
  random_bytes(&r, sizeof r);
  return uint32_t(uptime_ns() / 4000) + r;
}

// The MSS to offer toward dst: the link's MTU less the IP and TCP headers
// (IPv4 20 + 20, IPv6 40 + 20; the minimum MTUs 576 and 1280 if no route).
uint16_t mss_for(const IpAddr& dst, uint32_t scope) {
  const uint32_t hdrs = dst.is_v4() ? 40 : 60;
  auto r = inet_route(dst, scope);
  uint32_t mtu = r.ok() ? r.value().mtu : dst.is_v4() ? 576 : 1280;
  uint32_t m = mtu > hdrs + 65495 ? 65495 : mtu - hdrs;
  return uint16_t(m);
}

// The largest TCP/IP packet the route's device cuts into segments itself
// (TCP segmentation offload, docs/net.md; TSO6 for IPv6); 0: none.
uint32_t tso_for(const IpAddr& dst, uint32_t scope) {
  auto r = inet_route(dst, scope);
  return r.ok() ? r.value().tso_max : 0;
}

TcpRef find_conn(const IpAddr& dst, uint16_t dport, const IpAddr& src, uint16_t sport) {
  void* o = g_conns.lookup(
      dport,
      [&](Binding& b) { return (b.addr == dst && b.raddr == src && b.rport == sport) ? 1 : 0; },
      [](void* p) { static_cast<TcpSocket*>(p)->retain(); });
  return TcpRef::adopt(static_cast<TcpSocket*>(o));
}

// True when a connection has this 4-tuple (no reference taken: a look
// only, safe under a socket's mutex).
bool conn_exists(const IpAddr& dst, uint16_t dport, const IpAddr& src, uint16_t sport) {
  return g_conns.lookup(
             dport, [&](Binding& b) { return (b.addr == dst && b.raddr == src && b.rport == sport) ? 1 : 0; },
             [](void*) {}) != nullptr;
}

// A listener for dst:dport: a bound address above the wildcard, a socket
// of the segment's family alone above a dual-stack one.
TcpRef find_listener(const IpAddr& dst, uint16_t dport) {
  void* o = g_ports.lookup(
      dport,
      [&](Binding& b) {
        if (!b.listening || !b.takes(dst)) return 0;
        if (!b.addr.wildcard()) return 4;
        return b.exact_family(dst) ? 2 : 1;
      },
      [](void* p) { static_cast<TcpSocket*>(p)->retain(); });
  return TcpRef::adopt(static_cast<TcpSocket*>(o));
}

// RFC 793 p. 36 / 65: a reset answering a segment that has no connection.
void send_reset_for(const IpMeta& h, const TcpSegment& s) {
  if (s.flags & TCP_RST) return;
  if (h.dst.multi_or_broadcast()) return;
  auto r = PacketBuf::alloc(TCP_MIN_HEADER);
  if (!r.ok()) return;
  TcpSegment o;
  o.sport = s.dport;
  o.dport = s.sport;
  if (s.flags & TCP_ACK) {
    o.seq = s.ack;  // <SEQ=SEG.ACK><CTL=RST>
    o.flags = TCP_RST;
  } else {
    o.ack = s.seq + s.seq_len();  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    o.flags = TCP_RST | TCP_ACK;
  }
  uint8_t* p = r.value().data();
  tcp_build(p, o, 0, -1);
  store16(p + 16, csum_fold(csum_add(csum_pseudo_ip(h.dst, h.src, IPPROTO_TCP_, TCP_MIN_HEADER), p, TCP_MIN_HEADER)));
  g_out_rsts.fetch_add(1, std::memory_order_relaxed);
  (void)inet_output(static_cast<PacketBuf&&>(r.value()), h.dst, h.src, IPPROTO_TCP_, IPV4_DEFAULT_TTL, 0, h.nif);
}

}  // namespace

Socket* tcp_new_socket(Family f) { return new (std::nothrow) TcpSocket(f); }

TcpSocket::TcpSocket(Family f) : family_(f) {
  port_.owner = this;
  port_.v4 = f == Family::Inet;
  port_.v6 = f == Family::Inet6;
  conn_.owner = this;
  timer_.callback = tcp_timer_fired;
  timer_.context = this;
}

TcpSocket::~TcpSocket() {
  kernel_timer_cancel(timer_);
  g_ports.unbind(port_);
  g_conns.unbind(conn_);
  detach_watchers();
}

// --- timers ---------------------------------------------------------------------------

void tcp_timer_fired(KernelTimer& t) {
  auto* s = static_cast<TcpSocket*>(t.context);
  {
    Hold<Mutex> g(s->mu_);
    // Only a hashed socket has timers, and the table's reference keeps it
    // alive while hashed: taking our own is safe under mu_.
    if (!s->hashed_) return;
    s->retain();
    s->armed_at_ = 0;
    s->timer_locked(uptime_ns());
  }
  s->settle();
  s->release();
}

void TcpSocket::rearm_locked() {
  uint64_t next = 0;
  for (uint64_t d : {rtx_at_, dack_at_, keep_at_, end_at_, cork_at_})
    if (d && (!next || d < next)) next = d;
  if (!next || !hashed_) return;  // a stale expiry finds nothing to do
  if (armed_at_ && armed_at_ <= next) return;
  armed_at_ = next;
  kernel_timer_arm(timer_, next);
}

void TcpSocket::timer_locked(uint64_t now) {
  if (dack_at_ && dack_at_ <= now) {
    dack_at_ = 0;
    if (unacked_segs_) send_ack_locked();
  }
  if (cork_at_ && cork_at_ <= now) {
    // TCP_CORK held a partial segment for 200 ms: it goes now (tcp(7)'s
    // ceiling; Linux's probe timer does it).
    cork_at_ = 0;
    cork_flush_ = true;
    output_locked();
    cork_flush_ = false;
  }
  if (end_at_ && end_at_ <= now) {
    // TIME_WAIT is over, or an orphaned FIN_WAIT2 waited long enough.
    end_at_ = 0;
    done_locked();
    return;
  }
  if (rtx_at_ && rtx_at_ <= now) {
    rtx_at_ = 0;
    const bool syn = state_ == TcpState::SynSent || state_ == TcpState::SynReceived;
    if (++retries_ > (syn ? SYN_RETRIES : DATA_RETRIES)) {
      // RFC 1122 4.2.3.5: give up (R2) with ETIMEDOUT.
      if (state_ != TcpState::SynSent) send_rst_locked();
      set_error_locked(Error::TimedOut);
      done_locked();
      return;
    }
    // RFC 6298 5.4-5.6: back off and go back to the oldest unacknowledged.
    rto_ = rto_ * 2 > RTO_MAX ? RTO_MAX : rto_ * 2;
    rtt_timing_ = false;  // Karn: no sample from a retransmitted segment
    g_retrans_segs.fetch_add(1, std::memory_order_relaxed);
  ++total_retrans_;
    if (!syn && snd_wnd_ != 0) {
      // RFC 5681 3.1 / RFC 6582 4.2: the window collapses to one segment,
      // recovery is over, and duplicate ACKs for what was sent before the
      // timeout start no fast retransmit.
      cc_.on_timeout(snd_max_ - snd_una_, retries_ == 1);
      recover_ = snd_max_;
      recover_set_ = true;
      dupacks_ = 0;
      sacked_.clear();  // the peer may have dropped what it SACKed (RFC 2018 8)
      high_rxt_ = snd_una_;
    }
    if (state_ == TcpState::SynSent) {
      send_segment_locked(TCP_SYN, iss_, 0, 0, true);
    } else if (state_ == TcpState::SynReceived) {
      send_segment_locked(TCP_SYN | TCP_ACK, iss_, 0, 0, true);
    } else {
      snd_nxt_ = snd_una_;
      fin_sent_ = false;
      output_locked(snd_wnd_ == 0);  // a zero window: a one-byte probe (persist)
    }
    if (!rtx_at_) rtx_at_ = now + rto_;
  }
  if (keep_at_ && keep_at_ <= now) {
    keep_at_ = 0;
    if (keepalive_.load(std::memory_order_relaxed) &&
        (state_ == TcpState::Established || state_ == TcpState::CloseWait)) {
      uint64_t idle = uint64_t(keepidle_.load(std::memory_order_relaxed)) * SEC;
      if (now - last_rcv_ns_ >= idle) {
        if (keep_probes_ >= uint32_t(keepcnt_.load(std::memory_order_relaxed))) {
          send_rst_locked();
          set_error_locked(Error::TimedOut);
          done_locked();
          return;
        }
        // RFC 1122 4.2.3.6: a probe is SEG.SEQ = SND.NXT-1 with no data.
        ++keep_probes_;
        send_segment_locked(TCP_ACK, snd_una_ - 1, 0, 0, false);
        keep_at_ = now + uint64_t(keepintvl_.load(std::memory_order_relaxed)) * SEC;
      } else {
        keep_at_ = last_rcv_ns_ + idle;
      }
    }
  }
  rearm_locked();
}

// --- state ----------------------------------------------------------------------------

void TcpSocket::wake_locked(uint32_t events) {
  read_wait_.wake_all();
  write_wait_.wake_all();
  state_wait_.wake_all();
  notify(events);
}

void TcpSocket::set_error_locked(Error e) {
  err_ = e;
  wake_locked(POLL_ALL);
}

void TcpSocket::established_locked() {
  cc_.init(CcAlgo(cc_algo_.load(std::memory_order_relaxed)), send_mss_locked());
  sacked_.clear();
  if (retries_) cc_.syn_lost();
  dupacks_ = 0;
  recover_set_ = false;
  state_ = TcpState::Established;
  was_connected_ = true;
  retries_ = 0;
  rtx_at_ = 0;
  last_rcv_ns_ = uptime_ns();
  if (keepalive_.load(std::memory_order_relaxed))
    keep_at_ = last_rcv_ns_ + uint64_t(keepidle_.load(std::memory_order_relaxed)) * SEC;
  wake_locked(WRITABLE);
}

void TcpSocket::enter_time_wait_locked() {
  state_ = TcpState::TimeWait;
  rtx_at_ = dack_at_ = keep_at_ = 0;
  end_at_ = uptime_ns() + TIME_WAIT_LEN;
  sndbuf_.release();
  if (closed_) release_rcvbuf_locked();
  rearm_locked();
  wake_locked(POLL_ALL);
}

// The connection is over (CLOSED): out of the tables once mu_ is dropped.
void TcpSocket::done_locked() {
  const bool syn_rcvd = state_ == TcpState::SynReceived;
  state_ = TcpState::Closed;
  rtx_at_ = dack_at_ = keep_at_ = end_at_ = 0;
  rcv_shut_ = snd_shut_ = true;
  unhash_ = true;
  sndbuf_.release();
  if (closed_) release_rcvbuf_locked();
  if (syn_rcvd && listener_) {
    // A child that never completed: the listener forgets it (settle).
  }
  wake_locked(POLL_ALL);
}

void TcpSocket::settle() {
  TcpRef listener;
  bool was_syn_child;
  {
    Hold<Mutex> g(mu_);
    if (!unhash_ || !hashed_) return;
    hashed_ = false;
    was_syn_child = !was_connected_ && listener_;
    listener = static_cast<TcpRef&&>(listener_);
    if (closed_) g_ports.unbind(port_);
  }
  g_conns.unbind(conn_);
  kernel_timer_cancel(timer_);
  if (listener && was_syn_child) {
    Hold<Mutex> g(listener->mu_);
    if (listener->syn_queue_) --listener->syn_queue_;
  }
  release();  // the table's reference
}

// --- output ---------------------------------------------------------------------------

uint32_t TcpSocket::rcv_window_locked() const {
  uint32_t cap = rcvbuf_.ready() ? rcvbuf_.capacity() : BUF_SIZE;
  uint32_t used = rcvbuf_.size();
  return cap > used ? cap - used : 0;
}

uint16_t TcpSocket::advertised_window_locked() {
  uint32_t w = rcv_window_locked();
  // Never shrink the window already offered (RFC 1122 4.2.2.16).
  if (seq_lt(rcv_nxt_ + w, rcv_adv_)) w = rcv_adv_ - rcv_nxt_;
  uint8_t shift = wscale_ok_ ? rcv_wscale_ : 0;
  uint32_t field = w >> shift;
  if (field > 65535) field = 65535;
  rcv_adv_ = rcv_nxt_ + (field << shift);
  return uint16_t(field);
}

void TcpSocket::send_segment_locked(uint8_t flags, uint32_t seq, uint32_t data_off, uint32_t len, bool syn_options) {
  auto r = PacketBuf::alloc(TCP_MAX_BUILT_HEADER + len);
  if (!r.ok()) return;  // as a lost segment: the timer sends it again
  PacketBuf pkt = static_cast<PacketBuf&&>(r.value());
  TcpSegment o;
  o.sport = conn_.port;
  o.dport = conn_.rport;
  o.seq = seq;
  o.flags = flags;
  if (flags & TCP_ACK) o.ack = rcv_nxt_;
  if (flags & TCP_SYN) {
    // The window in a SYN is never scaled (RFC 7323 2.2).
    uint32_t w = rcv_window_locked();
    o.window = uint16_t(w > 65535 ? 65535 : w);
    rcv_adv_ = rcv_nxt_ + o.window;
  } else {
    o.window = advertised_window_locked();
  }
  uint8_t hdr[TCP_MAX_BUILT_HEADER];
  TcpOptions opt;
  if (syn_options) {
    opt.mss = mss_for(conn_.raddr, scope_);
    int um = user_mss_.load(std::memory_order_relaxed);
    if (um && um < opt.mss) opt.mss = uint16_t(um);
    // A SYN offers scaling, SACK and timestamps; a SYN-ACK answers only
    // what was offered (RFC 7323 1.3 and 3.2, RFC 2018 2).
    const bool offer = !(flags & TCP_ACK);
    if (offer || wscale_ok_) opt.wscale = rcv_wscale_;
    opt.sack_ok = offer || sack_ok_;
    opt.ts = offer || ts_ok_;
  } else {
    opt.ts = ts_ok_ && !(flags & TCP_RST);  // in every segment once agreed (RFC 7323 3.2)
  }
  if (opt.ts) {
    opt.tsval = ts_now_locked();
    opt.tsecr = (flags & TCP_ACK) ? ts_recent_ : 0;
  }
  if (sack_ok_ && (flags & TCP_ACK) && !(flags & TCP_SYN) && len == 0 && !ooo_.empty()) {
    // SACK blocks (RFC 2018 4): the range that took the newest segment
    // first, then the others; pure ACKs only, so data segments keep their
    // size.
    int first = ooo_.last() >= 0 ? ooo_.last() : 0;
    opt.sack[opt.nsack][0] = ooo_[first].start, opt.sack[opt.nsack][1] = ooo_[first].end, ++opt.nsack;
    for (int i = 0; i < ooo_.size() && opt.nsack < TcpSegment::MAX_SACK; ++i)
      if (i != first) opt.sack[opt.nsack][0] = ooo_[i].start, opt.sack[opt.nsack][1] = ooo_[i].end, ++opt.nsack;
  }
  if (flags & TCP_ACK) last_ack_sent_ = rcv_nxt_;
  size_t hl = tcp_build(hdr, o, opt);
  // The header goes in front of the data, then trims the room not used.
  if (len) sndbuf_.read(data_off, pkt.data() + TCP_MAX_BUILT_HEADER, len);
  pkt.pull(TCP_MAX_BUILT_HEADER - hl);
  __builtin_memcpy(pkt.data(), hdr, hl);
  uint16_t total = uint16_t(hl + len);
  uint8_t* p = pkt.data();
  if (len > send_mss_locked()) {
    // TCP segmentation offload (output_locked sends more than an MSS only
    // when the route's device cuts segments): the device completes each
    // segment's checksum from the pseudo-header's sum over the whole
    // length, as Linux's CHECKSUM_PARTIAL.
    store16(p + 16, uint16_t(~csum_fold(csum_pseudo_ip(conn_.addr, conn_.raddr, IPPROTO_TCP_, total))));
    pkt.set_partial_csum(0, 16);
    pkt.set_gso_size(uint16_t(send_mss_locked()));
    g_out_segs.fetch_add((len - 1) / send_mss_locked(), std::memory_order_relaxed);  // the segments it makes
  } else {
    store16(p + 16, csum_fold(csum_add(csum_pseudo_ip(conn_.addr, conn_.raddr, IPPROTO_TCP_, total), p, total)));
  }
  if (flags & TCP_ACK) {
    unacked_segs_ = 0;
    dack_at_ = 0;
  }
  if (flags & TCP_RST) g_out_rsts.fetch_add(1, std::memory_order_relaxed);
  g_out_segs.fetch_add(1, std::memory_order_relaxed);
  (void)inet_output(static_cast<PacketBuf&&>(pkt), conn_.addr, conn_.raddr, IPPROTO_TCP_,
                    uint8_t(ttl_.load(std::memory_order_relaxed)), uint8_t(tos_.load(std::memory_order_relaxed)), scope_);
}

// Sends the first unacknowledged segment again (fast retransmit, a
// partial ACK in recovery): its data, or the FIN when only that is left.
void TcpSocket::retransmit_first_locked() {
  const uint32_t end = snd_buf_seq_ + sndbuf_.size();
  g_retrans_segs.fetch_add(1, std::memory_order_relaxed);
  ++total_retrans_;
  if (seq_lt(snd_una_, end)) {
    uint32_t n = end - snd_una_;
    if (n > send_mss_locked()) n = send_mss_locked();
    uint8_t flags = TCP_ACK;
    if (fin_sent_ && snd_una_ + n == end) flags |= TCP_FIN;
    send_segment_locked(flags, snd_una_, snd_una_ - snd_buf_seq_, n, false);
    if (seq_gt(snd_una_ + n, high_rxt_)) high_rxt_ = snd_una_ + n;
  } else if (fin_sent_) {
    send_segment_locked(TCP_FIN | TCP_ACK, snd_una_, 0, 0, false);
  }
  rtx_at_ = uptime_ns() + rto_;
  rearm_locked();
}

uint32_t TcpSocket::ts_now_locked() const { return uint32_t(uptime_ns() / MS) + ts_offset_; }

// What a data segment carries: the peer's MSS less the options every
// segment has (RFC 6691: the timestamps' 12 bytes).
uint32_t TcpSocket::send_mss_locked() const { return ts_ok_ ? mss_ - 12u : mss_; }

// RFC 6298 2.2-2.3 with a sample of r ns.
void TcpSocket::rtt_sample_locked(uint64_t r) {
  if (!srtt_) {
    srtt_ = r, rttvar_ = r / 2;
  } else {
    uint64_t d = srtt_ > r ? srtt_ - r : r - srtt_;
    rttvar_ = (3 * rttvar_ + d) / 4;
    srtt_ = (7 * srtt_ + r) / 8;
  }
  uint64_t rto = srtt_ + (4 * rttvar_ > 1000 ? 4 * rttvar_ : 1000);
  rto_ = rto < RTO_MIN ? RTO_MIN : rto > RTO_MAX ? RTO_MAX : rto;
}

// The SACK blocks of an ACK into the scoreboard (RFC 6675 5): only
// blocks above snd_una_ and within what was sent; others are ignored.
void TcpSocket::sack_input_locked(const TcpSegment& s) {
  for (int i = 0; i < s.nsack; ++i) {
    uint32_t a = s.sack[i][0], b = s.sack[i][1];
    if (!seq_lt(a, b) || !seq_gt(b, snd_una_) || seq_gt(b, snd_max_)) continue;
    if (seq_lt(a, snd_una_)) a = snd_una_;
    (void)sacked_.add(a, b);  // a full scoreboard forgets: it only guides retransmission
  }
}

uint32_t TcpSocket::sacked_bytes_above_una_locked() const { return sacked_.bytes(); }

// In recovery with SACK: sends the next hole below the highest SACKed
// byte not sent again yet (RFC 6675 NextSeg() rule 1, every hole below
// a SACKed range taken as lost), if the window has room for it. The
// retransmissions still in flight count against cwnd with the rest.
bool TcpSocket::retransmit_hole_locked() {
  const uint32_t end = snd_buf_seq_ + sndbuf_.size();
  uint32_t cursor, hole_end;
  if (!sacked_.next_hole(seq_gt(high_rxt_, snd_una_) ? high_rxt_ : snd_una_, cursor, hole_end)) return false;
  if (!seq_lt(cursor, end)) return false;
  uint32_t n = seq_gt(hole_end, end) ? end - cursor : hole_end - cursor;
  if (n > send_mss_locked()) n = send_mss_locked();
  // Retransmitted bytes in flight: the holes between snd_una_ and high_rxt_.
  uint32_t rxt = seq_gt(high_rxt_, snd_una_) ? (high_rxt_ - snd_una_) - sacked_.covered(snd_una_, high_rxt_) : 0;
  if (uint64_t(snd_nxt_ - snd_una_) + rxt + n > cc_.cwnd()) return false;
  g_retrans_segs.fetch_add(1, std::memory_order_relaxed);
  ++total_retrans_;
  send_segment_locked(TCP_ACK, cursor, cursor - snd_buf_seq_, n, false);
  high_rxt_ = cursor + n;
  return true;
}

void TcpSocket::send_ack_locked() { send_segment_locked(TCP_ACK, snd_nxt_, 0, 0, false); }

void TcpSocket::send_rst_locked() {
  if (state_ == TcpState::Closed || state_ == TcpState::Listen || state_ == TcpState::SynSent) return;
  send_segment_locked(TCP_RST | TCP_ACK, snd_nxt_, 0, 0, false);
}

// Sends what the window and Nagle allow (RFC 793 3.7, RFC 1122 4.2.3.4),
// then a FIN once every byte is out. force_one: a window probe.
void TcpSocket::output_locked(bool force_one) {
  if (state_ != TcpState::Established && state_ != TcpState::CloseWait && state_ != TcpState::FinWait1 &&
      state_ != TcpState::Closing && state_ != TcpState::LastAck)
    return;
  const uint32_t end = snd_buf_seq_ + sndbuf_.size();  // one past the last queued byte
  const uint32_t smss = send_mss_locked();
  bool sent = false;
  // In recovery with SACK, the holes go before new data.
  if (cc_.in_recovery() && sack_ok_ && !sacked_.empty() && !force_one)
    for (int i = 0; i < 64 && retransmit_hole_locked(); ++i) sent = true;
  for (;;) {
    uint32_t in_flight = snd_nxt_ - snd_una_;
    // The peer's window and the congestion window (RFC 5681 2); a window
    // probe ignores both.
    uint32_t cwnd = cc_.cwnd();
    // Limited transmit (RFC 3042): the first two duplicate ACKs each let
    // one new segment out past cwnd (cwnd itself does not change).
    if (!cc_.in_recovery() && dupacks_ && dupacks_ < 3) cwnd += dupacks_ * smss;
    uint32_t wnd = snd_wnd_ < cwnd ? snd_wnd_ : cwnd;
    if (force_one && wnd <= in_flight) wnd = in_flight + 1;
    uint32_t room = wnd > in_flight ? wnd - in_flight : 0;
    uint32_t avail = seq_lt(snd_nxt_, end) ? end - snd_nxt_ : 0;
    uint32_t n = avail < room ? avail : room;
    // One segment, or with TCP segmentation offload as many whole ones as
    // the device takes in a frame (the last may be short at the end of
    // what is queued, as Linux's TSO).
    uint32_t cap = smss;
    const uint32_t iph = conn_.raddr.is_v4() ? IPV4_MIN_HEADER : IPV6_HEADER;
    if (tso_max_ && !force_one && tso_max_ > iph + TCP_MAX_BUILT_HEADER + 2 * smss) {
      // IPv4's total length and IPv6's payload length are 16 bits.
      uint32_t most = tso_max_ - iph - TCP_MAX_BUILT_HEADER;
      if (most > 65535 - iph - TCP_MAX_BUILT_HEADER) most = 65535 - iph - TCP_MAX_BUILT_HEADER;
      cap = most / smss * smss;
    }
    if (n > cap) n = cap;
    if (n > smss && n < avail) n -= n % smss;
    if (n == 0) break;
    // TCP_CORK: a partial segment waits for more data, for the cork to
    // be pulled or for 200 ms, in flight or not. Nagle: a small segment
    // waits while data is unacknowledged. Neither holds the last of the
    // stream (FIN follows); TCP_NODELAY turns Nagle off, not the cork.
    if (n < smss && n == avail && !snd_shut_ && !force_one) {
      if (cork_.load(std::memory_order_relaxed) && !cork_flush_) {
        if (!cork_at_) {
          cork_at_ = uptime_ns() + CORK_CEILING;
          rearm_locked();
        }
        break;
      }
      if (in_flight && !nodelay_.load(std::memory_order_relaxed)) break;
    }
    uint8_t flags = TCP_ACK;
    if (n == avail) flags |= TCP_PSH;
    bool fin = snd_shut_ && n == avail && !fin_sent_ && room > n;
    if (fin) flags |= TCP_FIN;
    if (!rtt_timing_ && seq_ge(snd_nxt_, snd_max_)) {  // Karn: new data only
      rtt_timing_ = true;
      rtt_seq_ = snd_nxt_ + n;
      rtt_start_ = uptime_ns();
    }
    send_segment_locked(flags, snd_nxt_, snd_nxt_ - snd_buf_seq_, n, false);
    snd_nxt_ += n;
    if (fin) {
      snd_nxt_ += 1;
      fin_sent_ = true;
    }
    if (seq_gt(snd_nxt_, snd_max_)) snd_max_ = snd_nxt_;
    sent = true;
    if (force_one) break;
  }
  if (snd_shut_ && !fin_sent_ && snd_nxt_ == end) {
    // The FIN alone (it needs no window: RFC 793 allows it at the edge).
    send_segment_locked(TCP_FIN | TCP_ACK, snd_nxt_, 0, 0, false);
    snd_nxt_ += 1;
    fin_sent_ = true;
    if (seq_gt(snd_nxt_, snd_max_)) snd_max_ = snd_nxt_;
    sent = true;
  }
  if ((sent || (sndbuf_.size() && snd_wnd_ == 0)) && !rtx_at_) {
    rtx_at_ = uptime_ns() + rto_;
    rearm_locked();
  }
}

// --- input ----------------------------------------------------------------------------

void TcpSocket::input(const IpMeta& h, const TcpSegment& s) {
  Hold<Mutex> g(mu_);
  switch (state_) {
    case TcpState::Listen: return input_listen_locked(h, s);
    case TcpState::SynSent: return input_syn_sent_locked(s);
    case TcpState::Closed: send_reset_for(h, s); return;
    default: return input_other_locked(s);
  }
}

void TcpSocket::input_listen_locked(const IpMeta& h, const TcpSegment& s) {
  // RFC 793 p. 65, LISTEN.
  if (s.flags & TCP_RST) return;
  if (s.flags & TCP_ACK) return send_reset_for(h, s);
  if (!(s.flags & TCP_SYN)) return;
  // The SYN queue and the accept queue are bounded by the backlog; a SYN
  // that finds them full is dropped (the client sends it again).
  if (syn_queue_ + accept_q_.size() > size_t(backlog_)) return;
  // The same SYN (the client's retransmission) may come up two receive
  // queues at once (a NIC with several, docs/net_device.md): both found
  // no connection, the first made it under this lock; the second is
  // dropped (the connection answers the next one).
  if (conn_exists(h.dst, s.dport, h.src, s.sport)) return;
  auto* c = new (std::nothrow) TcpSocket(family_);  // an AF_INET6 listener's IPv4 peers are v4-mapped
  if (!c) return;
  TcpRef child = TcpRef::adopt(c);
  {
    Hold<Mutex> gc(child->mu_);  // new: nobody else can hold it
    child->conn_.addr = h.dst;
    child->conn_.port = s.dport;
    child->conn_.raddr = h.src;
    child->conn_.rport = s.sport;
    child->scope_ = h.nif;
    child->listener_ = TcpRef(this);
    child->nodelay_.store(nodelay_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    child->cork_.store(cork_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    child->keepalive_.store(keepalive_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    child->linger_.store(linger_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    child->user_mss_.store(user_mss_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    child->cc_algo_.store(cc_algo_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    child->irs_ = s.seq;
    child->rcv_nxt_ = s.seq + 1;
    child->iss_ = new_iss();
    child->snd_una_ = child->iss_;
    child->snd_nxt_ = child->snd_max_ = child->iss_ + 1;
    child->snd_buf_seq_ = child->iss_ + 1;
    child->snd_wnd_ = s.window;  // a SYN's window is never scaled
    child->snd_wl1_ = s.seq;
    child->snd_wl2_ = child->iss_;
    child->mss_ = s.mss ? s.mss : 536;
    uint16_t mine = mss_for(h.src, h.nif);
    if (child->mss_ > mine) child->mss_ = mine;
    child->tso_max_ = tso_for(h.src, h.nif);
    child->wscale_ok_ = s.has_wscale;
    child->sack_ok_ = s.sack_ok;
    child->ts_ok_ = s.has_ts;
    child->ts_recent_ = s.tsval;
    random_bytes(&child->ts_offset_, sizeof child->ts_offset_);
    child->snd_wscale_ = s.has_wscale ? s.wscale : 0;
    child->rcv_wscale_ = s.has_wscale ? rcv_scale_for(BUF_SIZE) : 0;
    child->rto_ = RTO_INITIAL;
    child->state_ = TcpState::SynReceived;
    child->hashed_ = true;
    child->retain();  // the table's reference
    g_conns.insert(child->conn_);
    child->send_segment_locked(TCP_SYN | TCP_ACK, child->iss_, 0, 0, true);
    child->rtx_at_ = uptime_ns() + child->rto_;
    child->rearm_locked();
  }
  ++syn_queue_;
  g_passive_opens.fetch_add(1, std::memory_order_relaxed);
}

void TcpSocket::input_syn_sent_locked(const TcpSegment& s) {
  // RFC 793 p. 66, SYN-SENT.
  const bool ack = s.flags & TCP_ACK;
  if (ack && (seq_le(s.ack, iss_) || seq_gt(s.ack, snd_max_))) {
    if (!(s.flags & TCP_RST)) send_segment_locked(TCP_RST, s.ack, 0, 0, false);
    return;
  }
  if (s.flags & TCP_RST) {
    if (ack) {
      set_error_locked(Error::ConnRefused);
      g_attempt_fails.fetch_add(1, std::memory_order_relaxed);
      done_locked();
    }
    return;
  }
  if (!(s.flags & TCP_SYN)) return;
  irs_ = s.seq;
  rcv_nxt_ = s.seq + 1;
  mss_ = s.mss ? s.mss : 536;
  uint16_t mine = mss_for(conn_.raddr, scope_);
  if (mss_ > mine) mss_ = mine;
  tso_max_ = tso_for(conn_.raddr, scope_);
  wscale_ok_ = s.has_wscale;
  snd_wscale_ = s.has_wscale ? s.wscale : 0;
  if (!wscale_ok_) rcv_wscale_ = 0;
  sack_ok_ = s.sack_ok;
  ts_ok_ = s.has_ts;
  ts_recent_ = s.tsval;
  snd_wnd_ = s.window;
  snd_wl1_ = s.seq;
  snd_wl2_ = s.ack;
  if (ack) {
    snd_una_ = s.ack;
    // An RTT sample from the handshake (not retransmitted: Karn).
    if (retries_ == 0) {
      uint64_t r = uptime_ns() - rtt_start_;
      srtt_ = r, rttvar_ = r / 2;
      uint64_t rto = srtt_ + 4 * rttvar_;
      rto_ = rto < RTO_MIN ? RTO_MIN : rto;
    }
    established_locked();
    send_ack_locked();
    output_locked();
    return;
  }
  // Simultaneous open (RFC 793 p. 68): SYN-RECEIVED, answer SYN-ACK.
  state_ = TcpState::SynReceived;
  send_segment_locked(TCP_SYN | TCP_ACK, iss_, 0, 0, true);
}

// Processes an acceptable ACK field (RFC 793 p. 72, fifth check). False
// when the segment is to be dropped.
bool TcpSocket::ack_locked(const TcpSegment& s) {
  if (seq_gt(s.ack, snd_max_)) {
    send_ack_locked();  // acknowledges something not yet sent
    return false;
  }
  const uint32_t wnd = uint32_t(s.window) << snd_wscale_;
  // RFC 5681 2's duplicate ACK: data outstanding, no data, no SYN or FIN,
  // the same ACK number and window.
  const bool dup = s.ack == snd_una_ && snd_una_ != snd_max_ && s.len == 0 && !(s.flags & (TCP_SYN | TCP_FIN)) &&
                   wnd == snd_wnd_;
  if (sack_ok_ && s.nsack) sack_input_locked(s);
  if (seq_gt(s.ack, snd_una_)) {
    const uint32_t acked = s.ack - snd_una_;
    // Drop the acknowledged bytes from the send buffer (the SYN and FIN
    // take a number but no byte).
    uint32_t data_end = snd_buf_seq_ + sndbuf_.size();
    uint32_t upto = seq_lt(s.ack, data_end) ? s.ack : data_end;
    if (seq_gt(upto, snd_buf_seq_)) {
      sndbuf_.pop(upto - snd_buf_seq_);
      snd_buf_seq_ = upto;
    }
    snd_una_ = s.ack;
    if (seq_lt(snd_nxt_, snd_una_)) snd_nxt_ = snd_una_;
    // RFC 4861 7.3.1: new data acknowledged confirms the IPv6 next hop is
    // reachable (at most once a second: a route lookup each time).
    if (!conn_.raddr.is_v4()) {
      const uint64_t now = uptime_ns();
      if (now - nud_confirmed_ns_ >= 1'000'000'000ull) {
        nud_confirmed_ns_ = now;
        nd_confirm(conn_.raddr, scope_);
      }
    }
    retries_ = 0;
    dupacks_ = 0;
    if (!sacked_.empty()) (void)sacked_.advance(snd_una_);
    if (recover_set_ && seq_ge(snd_una_, recover_)) recover_set_ = false;
    if (cc_.in_recovery()) {
      if (!recover_set_) {
        cc_.exit_recovery(snd_max_ - snd_una_);  // RFC 6582 3.2 step 6: a full ACK
      } else {
        // A partial ACK (step 5): the next hole is lost too; send it now
        // (unless SACK's holes already went).
        cc_.on_partial_ack(acked);
        if (!sack_ok_ || !seq_lt(snd_una_, high_rxt_)) retransmit_first_locked();
      }
    } else {
      cc_.on_ack(acked, uptime_ns(), srtt_);
    }
    // RFC 6298 2.2/2.3: one sample per window, none from retransmissions.
    if (ts_ok_ && s.has_ts && s.tsecr) {
      // RTTM (RFC 7323 4): the echoed clock, valid for retransmissions
      // too; one sample per flight.
      rtt_timing_ = false;
      if (seq_ge(s.ack, ts_sample_seq_)) {
        uint32_t ms = ts_now_locked() - s.tsecr;
        if (ms < 0x80000000u) rtt_sample_locked(uint64_t(ms ? ms : 1) * MS);
        ts_sample_seq_ = snd_max_;
      }
    } else if (rtt_timing_ && seq_ge(s.ack, rtt_seq_)) {
      rtt_timing_ = false;
      rtt_sample_locked(uptime_ns() - rtt_start_);
    }
    // RFC 6298 5.2/5.3: stop the timer when all is acknowledged, else restart it.
    rtx_at_ = snd_una_ == snd_max_ ? 0 : uptime_ns() + rto_;
    write_wait_.wake_all();
    notify(WRITABLE);
  }
  // A peer that answers our window probes is alive (persist never times out).
  if (s.ack == snd_una_ && wnd == 0) retries_ = 0;
  if (dup) {
    ++dupacks_;
    if (cc_.in_recovery()) {
      cc_.on_dupack_in_recovery();  // RFC 5681 3.2 step 4: a segment left the network
    } else if ((dupacks_ == 3 || (sack_ok_ && sacked_bytes_above_una_locked() > 2 * send_mss_locked())) &&
               (!recover_set_ || seq_gt(s.ack, recover_))) {
      // Fast retransmit (RFC 5681 3.2 steps 2-3, RFC 6582 3.2 step 2): the
      // third duplicate ACK says the segment at snd_una_ is lost.
      recover_ = snd_max_;
      recover_set_ = true;
      cc_.enter_recovery(snd_max_ - snd_una_, uptime_ns());
      rtt_timing_ = false;
      high_rxt_ = snd_una_;
      retransmit_first_locked();
    }
  }
  // The send window (RFC 793 p. 72): from the newest segment only.
  if (seq_lt(snd_wl1_, s.seq) || (snd_wl1_ == s.seq && seq_le(snd_wl2_, s.ack))) {
    bool opened = snd_wnd_ == 0 && wnd > 0;
    snd_wnd_ = wnd;
    snd_wl1_ = s.seq;
    snd_wl2_ = s.ack;
    if (opened) write_wait_.wake_all();
  }
  return true;
}

void TcpSocket::release_rcvbuf_locked() {
  rcvbuf_.release();
  ooo_.clear();
  ooo_fin_ = false;
}

// A segment past rcv_nxt_ (RFC 793 p. 74 lets a receiver keep them; RFC
// 5681 4.2 wants the duplicate ACK the caller sends): its bytes go into
// the ring past the in-order end, its range into ooo_. Dropped when it
// does not fit the ring, would need a range more than TcpOoo::MAX, or
// nobody will read it.
void TcpSocket::queue_ooo_locked(uint32_t seq, const uint8_t* data, uint32_t len, bool fin) {
  if (closed_ || rcv_shut_ || fin_rcvd_) return;
  if (ooo_fin_ && seq_gt(seq + len, ooo_fin_seq_)) return;  // past the end the peer set
  if (!rcvbuf_.ready() && !rcvbuf_.ensure(BUF_SIZE).ok()) return;
  uint32_t off = seq - rcv_nxt_;
  uint32_t room = rcvbuf_.space();
  if (off >= room) return;
  if (len > room - off) len = room - off, fin = false;
  if (len) {
    if (!ooo_.add(seq, seq + len)) return;
    rcvbuf_.write_at(off, data, len);
  }
  if (fin) {
    ooo_fin_ = true;
    ooo_fin_seq_ = seq + len;
  }
}

void TcpSocket::data_locked(const TcpSegment& s) {
  // The text (RFC 793 p. 74, seventh). What arrives ahead of rcv_nxt is
  // kept (queue_ooo_locked) and answered at once with a duplicate ACK
  // (RFC 5681 4.2) that tells the sender where the hole is; a segment
  // that fills all or part of a hole is acknowledged at once too.
  uint32_t seq = s.seq + ((s.flags & TCP_SYN) ? 1 : 0);
  const uint8_t* data = s.data;
  uint32_t len = uint32_t(s.len);
  if (seq_lt(seq, rcv_nxt_)) {
    uint32_t skip = rcv_nxt_ - seq;
    if (skip >= len) {
      len = 0;
    } else {
      data += skip, len -= skip;
    }
    seq = rcv_nxt_;
  }
  bool fin = s.flags & TCP_FIN;
  if ((len || fin) && seq != rcv_nxt_) {
    if (len || fin) queue_ooo_locked(seq, data, len, fin);
    send_ack_locked();
    return;
  }
  if (len && closed_) {
    // Data for a descriptor that is gone: nobody will read it; a reset
    // tells the sender (tcp_rcv_state_process, RFC 2525 2.17).
    send_rst_locked();
    done_locked();
    return;
  }
  if (len) {
    if (fin_rcvd_) return;
    if (!rcvbuf_.ready() && !rcvbuf_.ensure(BUF_SIZE).ok()) return;
    uint32_t room = rcvbuf_.space();
    if (len > room) len = room, fin = false;  // past the window: dropped
    if (rcv_shut_ && !fin_rcvd_) {
      // SHUT_RD: the data is taken and thrown away (Linux keeps ACKing it).
    } else {
      rcvbuf_.push(data, len);
    }
    rcv_nxt_ += len;
    ++unacked_segs_;
    if (!ooo_.empty()) {
      // A hole filled, wholly or in part: what was queued behind it and is
      // now in order counts (its bytes are already in place).
      ack_now_ = true;
      uint32_t end = ooo_.advance(rcv_nxt_);
      if (seq_gt(end, rcv_nxt_)) {
        rcvbuf_.commit(end - rcv_nxt_);
        rcv_nxt_ = end;
      }
    }
    if (ooo_fin_ && rcv_nxt_ == ooo_fin_seq_ && ooo_.empty()) {
      fin = true;  // the FIN that came early is in order now
      seq = rcv_nxt_, len = 0;
      ooo_fin_ = false;
    }
    read_wait_.wake_all();
    notify(READABLE);
  }
  if (fin && seq + len == rcv_nxt_) {
    // RFC 793 p. 75, eighth: the FIN.
    rcv_nxt_ += 1;
    fin_rcvd_ = true;
    ack_now_ = true;
    switch (state_) {
      case TcpState::SynReceived:
      case TcpState::Established: state_ = TcpState::CloseWait; break;
      case TcpState::FinWait1:
        // Our FIN not acknowledged yet: simultaneous close.
        state_ = TcpState::Closing;
        break;
      case TcpState::FinWait2: enter_time_wait_locked(); break;
      default: break;
    }
    wake_locked(READABLE | POLL_RDHUP);
  }
  // RFC 1122 4.2.3.2: ACK at least every second full segment; otherwise
  // within DELAYED_ACK.
  // Linux's quick-ACK mode: the first segments of a connection are
  // acknowledged at once (it lets a sender's Nagle-held request go).
  if (unacked_segs_ && quick_acks_) --quick_acks_, ack_now_ = true;
  if (ack_now_ || unacked_segs_ >= 2) {
    ack_now_ = false;
    send_ack_locked();
  } else if (unacked_segs_ && !dack_at_) {
    dack_at_ = uptime_ns() + DELAYED_ACK;
    rearm_locked();
  }
}

void TcpSocket::input_other_locked(const TcpSegment& s) {
  last_rcv_ns_ = uptime_ns();
  keep_probes_ = 0;
  // PAWS (RFC 7323 5.3 R1): a segment older than TS.Recent is a duplicate
  // from an earlier wrap of the sequence space.
  if (ts_ok_ && s.has_ts && !(s.flags & TCP_RST) && seq_lt(s.tsval, ts_recent_)) {
    send_ack_locked();
    return;
  }
  // First: the sequence number (RFC 793 p. 69).
  uint32_t wnd = rcv_window_locked();
  if (seq_lt(rcv_nxt_ + wnd, rcv_adv_)) wnd = rcv_adv_ - rcv_nxt_;
  if (!seq_acceptable(s.seq, s.seq_len(), rcv_nxt_, wnd)) {
    if (!(s.flags & TCP_RST)) send_ack_locked();
    if (state_ == TcpState::TimeWait && (s.flags & TCP_FIN) && !(s.flags & TCP_RST)) {
      end_at_ = uptime_ns() + TIME_WAIT_LEN;  // a retransmitted FIN restarts 2 MSL
      rearm_locked();
    }
    return;
  }
  // RFC 7323 4.3: TS.Recent from the segment that the last ACK covered.
  if (ts_ok_ && s.has_ts && seq_ge(s.tsval, ts_recent_) && seq_le(s.seq, last_ack_sent_)) ts_recent_ = s.tsval;
  // Second: RST (RFC 5961 3.2: only an exact match resets; another in the
  // window draws a challenge ACK).
  if (s.flags & TCP_RST) {
    if (s.seq != rcv_nxt_) {
      send_ack_locked();
      return;
    }
    if (state_ == TcpState::SynReceived && !was_connected_ && listener_) {
      done_locked();  // back to LISTEN: the listener forgets this child
      return;
    }
    if (state_ != TcpState::TimeWait && state_ != TcpState::Closing && state_ != TcpState::LastAck) {
      // tcp_reset: a reset in CLOSE_WAIT is EPIPE (the peer had finished).
      set_error_locked(state_ == TcpState::SynReceived ? Error::ConnRefused
                       : state_ == TcpState::CloseWait ? Error::BrokenPipe
                                                       : Error::ConnReset);
      g_estab_resets.fetch_add(1, std::memory_order_relaxed);
    }
    reset_ = true;
    done_locked();
    return;
  }
  // Fourth: a SYN in the window (RFC 5961 4.2: a challenge ACK).
  if (s.flags & TCP_SYN) {
    send_ack_locked();
    return;
  }
  // Fifth: the ACK.
  if (!(s.flags & TCP_ACK)) return;
  if (state_ == TcpState::SynReceived) {
    if (seq_le(s.ack, snd_una_) || seq_gt(s.ack, snd_max_)) {
      send_segment_locked(TCP_RST, s.ack, 0, 0, false);
      return;
    }
    snd_wnd_ = uint32_t(s.window) << snd_wscale_;
    snd_wl1_ = s.seq;
    snd_wl2_ = s.ack;
    snd_una_ = s.ack;
    established_locked();
    if (listener_) {
      // Ready for accept: the listener's queue takes a reference.
      TcpRef l = listener_;
      Hold<Mutex> gl(l->mu_);
      if (l->syn_queue_) --l->syn_queue_;
      if (l->state_ == TcpState::Listen) {
        retain();
        l->accept_q_.push_back(*this);
        l->state_wait_.wake_all();
        l->notify(READABLE);
      } else {
        // The listener closed meanwhile.
        send_rst_locked();
        done_locked();
        return;
      }
    }
  } else if (!ack_locked(s)) {
    return;
  }
  const bool fin_acked = fin_sent_ && snd_una_ == snd_max_;
  switch (state_) {
    case TcpState::FinWait1:
      if (fin_acked) {
        state_ = TcpState::FinWait2;
        if (closed_) {
          end_at_ = uptime_ns() + FIN_TIMEOUT;  // an orphan does not wait forever
          rearm_locked();
        }
        wake_locked(POLL_ALL);
      }
      break;
    case TcpState::Closing:
    case TcpState::LastAck:
      if (fin_acked) {
        if (state_ == TcpState::Closing) enter_time_wait_locked();
        else done_locked();
        return;
      }
      // Data queued before our FIN may still wait (Nagle held a tail, the
      // window was short): this ACK lets it go. Nothing more arrives.
      output_locked();
      rearm_locked();
      return;
    case TcpState::TimeWait:
      send_ack_locked();
      end_at_ = uptime_ns() + TIME_WAIT_LEN;
      rearm_locked();
      return;
    default: break;
  }
  // Seventh and eighth: the text and the FIN.
  if (state_ == TcpState::Established || state_ == TcpState::FinWait1 || state_ == TcpState::FinWait2 ||
      (s.flags & TCP_FIN) || s.len)
    data_locked(s);
  output_locked();
  rearm_locked();
}

void TcpSocket::icmp_error(Error e) {
  Hold<Mutex> g(mu_);
  // RFC 1122 4.2.3.9: port and protocol unreachable abort a connection
  // being opened; other errors are soft (only reported while opening).
  if (state_ == TcpState::SynSent && (e == Error::ConnRefused || e == Error::ProtoNotSupported)) {
    set_error_locked(Error::ConnRefused);
    done_locked();
  }
}

void tcp_input(Netif&, const IpMeta& h, PacketBuf pkt) {
  g_in_segs.fetch_add(1, std::memory_order_relaxed);
  TcpSegment s;
  if (!tcp_parse(pkt.data(), pkt.size(), s) ||
      csum_fold(csum_add(csum_pseudo_ip(h.src, h.dst, IPPROTO_TCP_, uint32_t(pkt.size())), pkt.data(), pkt.size())) != 0) {
    g_in_errs.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (h.dst.multi_or_broadcast()) return;  // TCP is unicast
  TcpRef c = find_conn(h.dst, s.dport, h.src, s.sport);
  if (!c) c = find_listener(h.dst, s.dport);
  if (!c) return send_reset_for(h, s);
  c->input(h, s);
  c->settle();
}

void tcp_icmp_error(const IpAddr& qsrc, const IpAddr& qdst, const uint8_t* l4, Error e) {
  TcpRef c = find_conn(qsrc, load16(l4), qdst, load16(l4 + 2));
  if (!c) return;
  c->icmp_error(e);
  c->settle();
}

// --- socket calls ---------------------------------------------------------------------

// deadline: SO_RCVTIMEO's or SO_SNDTIMEO's (0: none); passing it is Again.
Result<void> TcpSocket::wait_locked(event::WaitList& w, const char* what, uint64_t deadline) {
  WaitTag tag(what, this);
  auto r = w.wait(mu_, deadline);
  if (!r.ok()) return timeout_is_again(r.error());
  return r;
}

void TcpSocket::set_families_locked() {
  // An AF_INET6 socket takes IPv4 too unless IPV6_V6ONLY (ipv6(7)).
  port_.v4 = family_ == Family::Inet || !v6only_;
  port_.v6 = family_ == Family::Inet6;
}

Result<void> TcpSocket::bind(const Address& a) {
  IpAddr ip = inet_ipaddr(a);
  if (!ip.wildcard() && !is_local_addr6(ip)) return Error::AddrNotAvail;
  if (ip.wildcard()) ip = IP6_ANY;
  Hold<Mutex> g(mu_);
  if (state_ != TcpState::Closed || port_.linked || closed_) return Error::Invalid;
  // inet6_bind: a v4-mapped address on a V6ONLY socket is EINVAL.
  if (family_ == Family::Inet6 && ip.is_v4() && v6only_) return Error::Invalid;
  if (a.family == Family::Inet6 && ip.link_local6()) scope_ = inet6_scope(a);
  port_.addr = ip;
  port_.port = inet_port(a);
  set_families_locked();
  Result<void> r = g_ports.bind(port_);
  if (!r.ok()) {
    port_.addr = IP6_ANY, port_.port = 0;
    return r;
  }
  user_port_ = inet_port(a) != 0;
  return {};
}

Result<void> TcpSocket::listen(int backlog, const Creds&) {
  Hold<Mutex> g(mu_);
  if (state_ != TcpState::Closed && state_ != TcpState::Listen) return Error::Invalid;
  if (unsigned(backlog) > unsigned(MAX_BACKLOG)) backlog = MAX_BACKLOG;
  if (backlog < 0) backlog = 0;
  backlog_ = backlog;
  if (state_ == TcpState::Listen) return {};
  // A listener must not share the port with another listener, even with
  // SO_REUSEADDR (only SO_REUSEPORT lets two listen): bind again as one.
  g_ports.unbind(port_);
  port_.listening = true;
  set_families_locked();
  Result<void> r = g_ports.bind(port_);  // port 0: an ephemeral port (autobind)
  if (!r.ok()) {
    port_.listening = false;
    if (port_.port) (void)g_ports.bind(port_);
    return r;
  }
  state_ = TcpState::Listen;
  return {};
}

Result<SocketRef> TcpSocket::accept(bool nonblock) {
  const uint64_t dl = deadline(false, uptime_ns());  // SO_RCVTIMEO (inet_csk_accept)
  Hold<Mutex> g(mu_);
  for (;;) {
    if (state_ != TcpState::Listen) return Error::Invalid;
    if (TcpSocket* c = accept_q_.pop_front()) {
      TcpRef child = TcpRef::adopt(c);
      Hold<Mutex> gc(child->mu_);  // the lock order is child -> listener; a popped child cannot wait on us
      child->listener_.reset();
      return SocketRef(child);
    }
    if (nonblock) return Error::Again;
    TRY(wait_locked(state_wait_, "tcp accept", dl));
  }
}

Result<void> TcpSocket::connect(const Address& a, bool nonblock, const Creds&) {
  Hold<Mutex> g(mu_);
  if (a.len == 0) {
    // AF_UNSPEC (tcp_disconnect): only an unconnected socket can.
    if (state_ == TcpState::Closed) return {};
    return Error::Invalid;
  }
  // After a non-blocking connect (__inet_stream_connect's SS_CONNECTING):
  // EALREADY while it goes on, then its outcome once, then EISCONN.
  const bool pending = connect_pending_;
  connect_pending_ = false;
  switch (state_) {
    case TcpState::SynSent:
    case TcpState::SynReceived: connect_pending_ = pending; return Error::Already;
    case TcpState::Listen: return Error::Invalid;
    case TcpState::Closed:
      if (was_connected_ || err_ != Error::None || hashed_) {
        // A connection that failed or ended: report a pending error once.
        if (err_ != Error::None) {
          Error e = err_;
          err_ = Error::None;
          return e;
        }
        return Error::Invalid;
      }
      break;
    default: return pending ? Result<void>() : Error::IsConnected;
  }
  IpAddr dst = inet_ipaddr(a);
  if (a.family == Family::Inet && dst.any()) dst = IpAddr::mapped(0);
  if (dst.wildcard()) dst = inet_this_host(dst);  // 0.0.0.0 and :: mean this host
  if (dst.multi_or_broadcast()) return Error::NetUnreach;
  // tcp_v6_connect: a v4-mapped peer of a V6ONLY socket.
  if (dst.is_v4() && family_ == Family::Inet6 && v6only_) return Error::NetUnreach;
  const uint32_t scope = a.family == Family::Inet6 && dst.link_local6() ? inet6_scope(a) : 0;
  InetRoute r = TRY(inet_route(dst, scope));
  uint16_t dport = inet_port(a);
  // A socket bound to one family's address cannot reach the other's.
  if (port_.linked && !port_.addr.wildcard() && port_.addr.is_v4() != dst.is_v4()) return Error::NetUnreach;
  // The local end: the bound address or the route's, the bound port or an
  // ephemeral one; the 4-tuple must be new.
  if (!port_.linked) {
    port_.addr = IP6_ANY;
    port_.port = 0;
    set_families_locked();
    TRY(g_ports.bind(port_));
  }
  scope_ = scope;
  conn_.addr = port_.addr.wildcard() ? r.src : port_.addr;
  conn_.port = port_.port;
  conn_.raddr = dst;
  conn_.rport = dport;
  if (TcpRef other = find_conn(conn_.addr, conn_.port, dst, dport)) return Error::AddrNotAvail;
  iss_ = new_iss();
  snd_una_ = iss_;
  snd_nxt_ = snd_max_ = iss_ + 1;
  snd_buf_seq_ = iss_ + 1;
  rcv_wscale_ = rcv_scale_for(BUF_SIZE);
  random_bytes(&ts_offset_, sizeof ts_offset_);  // RFC 7323 5.4: a clock per connection
  rto_ = RTO_INITIAL;
  retries_ = 0;
  state_ = TcpState::SynSent;
  hashed_ = true;
  retain();  // the table's reference
  g_conns.insert(conn_);
  g_active_opens.fetch_add(1, std::memory_order_relaxed);
  rtt_start_ = uptime_ns();
  send_segment_locked(TCP_SYN, iss_, 0, 0, true);
  rtx_at_ = uptime_ns() + rto_;
  rearm_locked();
  if (nonblock) {
    connect_pending_ = true;
    return Error::InProgress;
  }
  // SO_SNDTIMEO bounds the wait: then EINPROGRESS, and the handshake goes
  // on as after a non-blocking connect (__inet_stream_connect).
  const uint64_t dl = deadline(true, uptime_ns());
  while (state_ == TcpState::SynSent || state_ == TcpState::SynReceived) {
    auto w = wait_locked(state_wait_, "tcp connect", dl);
    if (!w.ok() && w.error() == Error::Again) {
      connect_pending_ = true;
      return Error::InProgress;
    }
    if (!w.ok()) return w.error();  // the connection goes on (EINTR; a later connect says EALREADY)
  }
  if (err_ != Error::None) {
    Error e = err_;
    err_ = Error::None;
    return e;
  }
  return {};
}

Result<void> TcpSocket::shutdown(Shut how) {
  Hold<Mutex> g(mu_);
  if (state_ == TcpState::Closed || state_ == TcpState::SynSent) {
    if (state_ == TcpState::Closed && !was_connected_) return Error::NotConnected;
  }
  if (state_ == TcpState::Listen) {
    // Shutting a listener down stops it (Linux: tcp_disconnect to CLOSE).
    if (uint8_t(how) & uint8_t(Shut::Read)) {
      rcv_shut_ = true;
      wake_locked(POLL_ALL);
    }
    return {};
  }
  if (uint8_t(how) & uint8_t(Shut::Read)) {
    rcv_shut_ = true;
    wake_locked(READABLE | POLL_RDHUP);
  }
  if ((uint8_t(how) & uint8_t(Shut::Write)) && !snd_shut_) {
    snd_shut_ = true;
    if (state_ == TcpState::Established) state_ = TcpState::FinWait1;
    else if (state_ == TcpState::CloseWait) state_ = TcpState::LastAck;
    output_locked();
    rearm_locked();
    wake_locked(WRITABLE);
  }
  return {};
}

void TcpSocket::finish_close_locked() {
  closed_ = true;
  const bool unread = rcvbuf_.size() > 0;
  const int linger = linger_.load(std::memory_order_relaxed);
  switch (state_) {
    case TcpState::Closed:
    case TcpState::SynSent:
      if (state_ == TcpState::SynSent) done_locked();
      g_ports.unbind(port_);
      return;
    case TcpState::Listen: return;
    default: break;
  }
  if (state_ == TcpState::TimeWait || state_ == TcpState::Closing || state_ == TcpState::LastAck ||
      state_ == TcpState::FinWait2) {
    if (state_ == TcpState::FinWait2) {
      end_at_ = uptime_ns() + FIN_TIMEOUT;
      rearm_locked();
    }
    release_rcvbuf_locked();
    return;
  }
  // RFC 2525 2.17 / Linux: closing with unread data, or SO_LINGER with a
  // zero timeout, aborts with a reset instead of a FIN.
  if (unread || linger == 0 || state_ == TcpState::SynReceived) {
    send_rst_locked();
    done_locked();
    return;
  }
  snd_shut_ = true;
  if (state_ == TcpState::Established) state_ = TcpState::FinWait1;
  else if (state_ == TcpState::CloseWait) state_ = TcpState::LastAck;
  release_rcvbuf_locked();
  output_locked();
  rearm_locked();
}

void TcpSocket::close() {
  IntrusiveList<TcpSocket, &TcpSocket::accept_node> pending;
  {
    Hold<Mutex> g(mu_);
    if (state_ == TcpState::Listen) {
      closed_ = true;
      state_ = TcpState::Closed;
      while (TcpSocket* c = accept_q_.pop_front()) pending.push_back(*c);
      g_ports.unbind(port_);
      wake_locked(POLL_ALL);
    } else {
      finish_close_locked();
    }
  }
  // Connections never accepted are reset (inet_csk_listen_stop); children
  // still in SYN_RECEIVED find the listener closed when their ACK comes.
  while (TcpSocket* c = pending.pop_front()) {
    TcpRef child = TcpRef::adopt(c);
    {
      Hold<Mutex> gc(child->mu_);
      child->listener_.reset();
      child->closed_ = true;
      child->send_rst_locked();
      child->done_locked();
    }
    child->settle();
  }
  settle();
}

Result<size_t> TcpSocket::sendmsg(SendMsg& m) {
  const size_t total = m.data.size();
  size_t done = 0;
  const uint64_t dl = deadline(true, uptime_ns());  // SO_SNDTIMEO
  Hold<Mutex> g(mu_);
  for (;;) {
    if (err_ != Error::None) {
      if (done) return done;
      Error e = err_;
      err_ = Error::None;
      return e;
    }
    if (snd_shut_ || reset_) return done ? Result<size_t>(done) : Error::BrokenPipe;
    if (state_ == TcpState::SynSent || state_ == TcpState::SynReceived) {
      if (m.nonblock) return Error::Again;
      TRY(wait_locked(state_wait_, "tcp send (connecting)", dl));
      continue;
    }
    // sk_stream_wait_connect: a socket that is not connected is EPIPE.
    if (state_ != TcpState::Established && state_ != TcpState::CloseWait)
      return done ? Result<size_t>(done) : Error::BrokenPipe;
    if (done == total) return done;
    if (!sndbuf_.ready() && !sndbuf_.ensure(BUF_SIZE).ok()) return done ? Result<size_t>(done) : Error::NoMemory;
    uint32_t room = sndbuf_.space();
    if (room == 0) {
      if (m.nonblock) return done ? Result<size_t>(done) : Error::Again;
      auto w = wait_locked(write_wait_, "tcp send", dl);
      if (!w.ok()) return done ? Result<size_t>(done) : w.error();
      continue;
    }
    uint32_t n = total - done < room ? uint32_t(total - done) : room;
    auto c = sndbuf_.push(m.data, done, n);
    if (!c.ok()) return done ? Result<size_t>(done) : c.error();
    done += n;
    output_locked();
  }
}

Result<size_t> TcpSocket::recvmsg(RecvMsg& m) {
  const size_t want = m.data.size();
  const bool peek = m.flags & MsgFlags::PEEK;
  const bool waitall = (m.flags & MsgFlags::WAITALL) && !peek;
  size_t done = 0;
  const uint64_t dl = deadline(false, uptime_ns());  // SO_RCVTIMEO
  Hold<Mutex> g(mu_);
  if (state_ == TcpState::Listen) return Error::NotConnected;
  if (state_ == TcpState::Closed && !was_connected_ && err_ == Error::None) return Error::NotConnected;
  for (;;) {
    uint32_t have = rcvbuf_.size();
    if (have && want > done) {
      uint32_t n = have < want - done ? have : uint32_t(want - done);
      if (peek) {
        TRY(rcvbuf_.read(0, m.data, done, n));
        return n;
      }
      auto c = rcvbuf_.read(0, m.data, done, n);
      if (!c.ok()) return done ? Result<size_t>(done) : c.error();
      uint32_t before = rcv_window_locked();
      rcvbuf_.pop(n);
      done += n;
      // A window update when reading opened at least two segments' or
      // half the buffer's worth (RFC 1122 4.2.3.3, receiver SWS avoidance).
      uint32_t after = rcv_window_locked();
      uint32_t adv = rcv_adv_ - rcv_nxt_;
      if (hashed_ && after > adv && (after - adv >= 2u * mss_ || after - adv >= BUF_SIZE / 2 || before == 0))
        send_ack_locked();
      if (!waitall || done == want) return done;
      continue;
    }
    if (done && !waitall) return done;
    if (done == want) return done;
    if (err_ != Error::None) {
      if (done) return done;
      Error e = err_;
      err_ = Error::None;
      return e;
    }
    if (fin_rcvd_ || rcv_shut_ || state_ == TcpState::Closed) return done;
    if (m.nonblock) return done ? Result<size_t>(done) : Error::Again;
    auto w = wait_locked(read_wait_, "tcp recv", dl);
    if (!w.ok()) return done ? Result<size_t>(done) : w.error();
  }
}

Result<int> TcpSocket::get_option(SockOpt o) {
  switch (o) {
    case SockOpt::SndBuf: return sndbuf_opt_.load(std::memory_order_relaxed);
    case SockOpt::RcvBuf: return rcvbuf_opt_.load(std::memory_order_relaxed);
    case SockOpt::ReuseAddr: {
      Hold<Mutex> g(mu_);
      return int(port_.reuseaddr);
    }
    case SockOpt::ReusePort: {
      Hold<Mutex> g(mu_);
      return int(port_.reuseport);
    }
    case SockOpt::KeepAlive: return int(keepalive_.load(std::memory_order_relaxed));
    case SockOpt::Linger: return linger_.load(std::memory_order_relaxed);
    case SockOpt::NoDelay: return int(nodelay_.load(std::memory_order_relaxed));
    case SockOpt::Cork: return int(cork_.load(std::memory_order_relaxed));
    case SockOpt::Congestion: return int(cc_algo_.load(std::memory_order_relaxed));
    case SockOpt::KeepIdle: return keepidle_.load(std::memory_order_relaxed);
    case SockOpt::KeepIntvl: return keepintvl_.load(std::memory_order_relaxed);
    case SockOpt::KeepCnt: return keepcnt_.load(std::memory_order_relaxed);
    case SockOpt::Ttl: return ttl_.load(std::memory_order_relaxed);
    case SockOpt::Tos: return tos_.load(std::memory_order_relaxed);
    case SockOpt::V6Only: {
      if (family_ != Family::Inet6) return Error::NoProtoOpt;
      Hold<Mutex> g(mu_);
      return int(v6only_);
    }
    case SockOpt::MaxSeg: {
      Hold<Mutex> g(mu_);
      if (state_ == TcpState::Closed || state_ == TcpState::Listen) {
        int um = user_mss_.load(std::memory_order_relaxed);
        return um ? um : 536;  // Linux: TCP_MSS_DEFAULT before a connection
      }
      return int(send_mss_locked());
    }
    case SockOpt::AcceptConn: {
      Hold<Mutex> g(mu_);
      return int(state_ == TcpState::Listen);
    }
    case SockOpt::PassCred: return 0;
    case SockOpt::Broadcast: return 0;
    case SockOpt::Error: {
      Hold<Mutex> g(mu_);
      Error e = err_;
      err_ = Error::None;
      return int(e);
    }
    default: return Error::NoProtoOpt;
  }
}

Result<void> TcpSocket::set_option(SockOpt o, int value) {
  switch (o) {
    case SockOpt::SndBuf: sndbuf_opt_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::RcvBuf: rcvbuf_opt_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::ReuseAddr: {
      Hold<Mutex> g(mu_);
      port_.reuseaddr = value != 0;
      return {};
    }
    case SockOpt::ReusePort: {
      Hold<Mutex> g(mu_);
      port_.reuseport = value != 0;
      return {};
    }
    case SockOpt::KeepAlive: {
      Hold<Mutex> g(mu_);
      keepalive_.store(value != 0, std::memory_order_relaxed);
      if (value && (state_ == TcpState::Established || state_ == TcpState::CloseWait)) {
        keep_at_ = uptime_ns() + uint64_t(keepidle_.load(std::memory_order_relaxed)) * SEC;
        rearm_locked();
      }
      return {};
    }
    case SockOpt::Linger: linger_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::NoDelay: {
      Hold<Mutex> g(mu_);
      nodelay_.store(value != 0, std::memory_order_relaxed);
      if (value) output_locked();  // what Nagle held goes now
      return {};
    }
    case SockOpt::Cork: {
      Hold<Mutex> g(mu_);
      cork_.store(value != 0, std::memory_order_relaxed);
      if (!value) {
        // Pulling the cork sends what it held (tcp_push_pending_frames),
        // Nagle permitting.
        cork_at_ = 0;
        output_locked();
      }
      return {};
    }
    case SockOpt::Congestion: {
      // TCP_CONGESTION (linux/ maps the name): from now on, for this connection too.
      if (value != int(CcAlgo::Reno) && value != int(CcAlgo::Cubic)) return Error::NotFound;
      Hold<Mutex> g(mu_);
      cc_algo_.store(uint8_t(value), std::memory_order_relaxed);
      cc_.set_algo(CcAlgo(value));
      return {};
    }
    case SockOpt::KeepIdle: keepidle_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::KeepIntvl: keepintvl_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::KeepCnt: keepcnt_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::MaxSeg: user_mss_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::Ttl: ttl_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::Tos: tos_.store(value, std::memory_order_relaxed); return {};
    case SockOpt::V6Only: {
      if (family_ != Family::Inet6) return Error::NoProtoOpt;
      Hold<Mutex> g(mu_);
      if (port_.linked || state_ != TcpState::Closed) return Error::Invalid;  // not once bound
      v6only_ = value != 0;
      return {};
    }
    case SockOpt::PassCred:
    case SockOpt::Broadcast: return {};
    default: return Error::NoProtoOpt;
  }
}

Result<void> TcpSocket::name(Address& out) {
  Hold<Mutex> g(mu_);
  if (hashed_ || was_connected_) inet_name(out, family_, conn_.addr, conn_.port, scope_);
  else inet_name(out, family_, port_.addr, port_.port, scope_);
  return {};
}

Result<void> TcpSocket::peer_name(Address& out) {
  Hold<Mutex> g(mu_);
  if (state_ == TcpState::Closed || state_ == TcpState::Listen || state_ == TcpState::SynSent)
    return Error::NotConnected;
  inet_name(out, family_, conn_.raddr, conn_.rport, scope_);
  return {};
}

size_t TcpSocket::bytes_readable() {
  Hold<Mutex> g(mu_);
  return rcvbuf_.size();
}

Result<void> TcpSocket::tcp_info(TcpInfo& out) {
  Hold<Mutex> g(mu_);
  // Linux's numbering of the states (include/net/tcp_states.h).
  static constexpr uint8_t LINUX_STATE[] = {7, 10, 2, 3, 1, 4, 5, 8, 11, 9, 6};
  out.state = LINUX_STATE[uint8_t(state_)];
  out.ca_state = cc_.in_recovery() ? 3 : (retries_ && snd_una_ != snd_max_) ? 4 : dupacks_ ? 1 : 0;
  out.retransmits = uint8_t(retries_ > 255 ? 255 : retries_);
  out.backoff = out.retransmits;
  out.ts = ts_ok_, out.sack = sack_ok_, out.wscale = wscale_ok_;
  out.snd_wscale = wscale_ok_ ? snd_wscale_ : 0;
  out.rcv_wscale = wscale_ok_ ? rcv_wscale_ : 0;
  out.rto_us = uint32_t((rto_ ? rto_ : RTO_INITIAL) / 1000);
  out.snd_mss = send_mss_locked();
  out.rcv_mss = out.snd_mss;
  out.advmss = send_mss_locked();
  out.unacked = (snd_max_ - snd_una_ + send_mss_locked() - 1) / send_mss_locked();
  out.sacked = (sacked_bytes_above_una_locked() + send_mss_locked() - 1) / send_mss_locked();
  out.rtt_us = uint32_t(srtt_ / 1000);
  out.rttvar_us = uint32_t(rttvar_ / 1000);
  uint32_t mss = send_mss_locked();
  out.snd_cwnd = cc_.cwnd() ? cc_.cwnd() / mss : 10;
  out.snd_ssthresh = cc_.ssthresh() == TcpCc::SSTHRESH_INFINITE ? 0x7fffffffu : cc_.ssthresh() / mss;
  out.total_retrans = total_retrans_;
  return {};
}

bool TcpSocket::proc_info(InetSockInfo& out, bool from_ports) {
  Hold<Mutex> g(mu_);
  static constexpr uint8_t LINUX_STATE[] = {7, 10, 2, 3, 1, 4, 5, 8, 11, 9, 6};
  if (from_ports ? (state_ != TcpState::Listen || hashed_) : !hashed_) return false;
  const Binding& b = hashed_ ? conn_ : port_;
  out.v6 = family_ == Family::Inet6;
  out.laddr = b.addr, out.lport = b.port, out.raddr = b.raddr, out.rport = b.rport;
  out.state = LINUX_STATE[int(state_)];
  // get_tcp4_sock: a listener's rx_queue is its accept queue; else the
  // unread bytes and the unacknowledged and unsent ones.
  out.rx_queue = state_ == TcpState::Listen ? uint32_t(accept_q_.size()) : rcvbuf_.size();
  out.tx_queue = state_ == TcpState::Listen ? 0 : sndbuf_.size();
  out.ino = closed_ ? 0 : ino();
  return true;
}

size_t tcp_socket_list(InetSockInfo* out, size_t max) {
  // References under each table's lock (a leaf), the sockets' own locks
  // after it is dropped.
  size_t n = 0;
  TcpSocket** found = new (std::nothrow) TcpSocket*[max];
  if (!found) return 0;
  for (int pass = 0; pass < 2 && n < max; ++pass) {
    PortTable& table = pass == 0 ? g_ports : g_conns;
    size_t k = 0;
    table.for_each([&](Binding& b) {
      if (k < max - n && (pass == 1 || b.listening) && static_cast<TcpSocket*>(b.owner)->try_retain())
        found[k++] = static_cast<TcpSocket*>(b.owner);
    });
    for (size_t i = 0; i < k; ++i) {
      TcpRef s = TcpRef::adopt(found[i]);
      if (s->proc_info(out[n], pass == 0)) ++n;
    }
  }
  delete[] found;
  return n;
}

size_t TcpSocket::bytes_unsent() {
  Hold<Mutex> g(mu_);
  return sndbuf_.size();
}

uint32_t TcpSocket::poll_events() {
  Hold<Mutex> g(mu_);
  uint32_t ev = 0;
  if (state_ == TcpState::Listen) return accept_q_.empty() ? 0 : READABLE;
  // tcp_poll's rules.
  const bool both_shut = (rcv_shut_ || fin_rcvd_) && snd_shut_;
  if (both_shut || state_ == TcpState::Closed) ev |= POLL_HUP;
  if (fin_rcvd_ || rcv_shut_) ev |= READABLE | POLL_RDHUP;
  if (state_ == TcpState::SynSent || state_ == TcpState::SynReceived) {
    // Not writable until connected.
  } else if (state_ != TcpState::Closed || was_connected_ || err_ != Error::None) {
    if (rcvbuf_.size()) ev |= READABLE;
    if (snd_shut_ || state_ == TcpState::Closed) ev |= WRITABLE;
    else if (!sndbuf_.ready() || sndbuf_.space() >= sndbuf_.capacity() / 3) ev |= WRITABLE;
  } else {
    ev |= WRITABLE;  // a fresh socket: Linux reports POLLOUT|POLLHUP
  }
  if (err_ != Error::None) ev |= POLL_ERR;
  return ev;
}

}  // namespace capsule::net
