#pragma once
// TCP sockets (RFC 793, RFC 1122 4.2, RFC 6298, RFC 7323; tcp(7);
// docs/net.md "TCP"). Private to net/.
//
// Every connection is one TcpSocket with its own Mutex (mu_) over all its
// state; there is no stack-wide lock. Tables: g_ports (bound ports and
// listeners: bind conflicts, where a SYN goes) and g_conns (connections
// by 4-tuple), each a PortTable with a leaf spinlock. A socket in g_conns
// holds a reference of the table's (a closed descriptor's connection lives
// on through FIN_WAIT and TIME_WAIT).
//
// Lock order: a child connection's mu_ -> its listener's mu_ (a handshake
// completing queues the child for accept); otherwise one socket's mu_ at a
// time; table locks are leaves. Segments are sent with mu_ held
// (Netif::output never calls back into the stack on this thread).
// References are dropped after mu_ is released.
#include <atomic>

#include "core/event/sync.h"
#include "core/event/wait.h"
#include "core/time/kernel_timer.h"
#include "lib/intrusive_list.h"
#include "net/inet.h"
#include "net/inet/ip.h"
#include "net/inet/port_table.h"
#include "net/inet/tcp_cc.h"
#include "net/inet/tcp_header.h"
#include "net/inet/tcp_ooo.h"
#include "net/inet/tcp_ring.h"

namespace capsule::net {

class TcpSocket;
using TcpRef = RefPtr<TcpSocket>;
void tcp_timer_fired(KernelTimer& t);

enum class TcpState : uint8_t {
  Closed, Listen, SynSent, SynReceived, Established, FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait,
};

class TcpSocket final : public Socket {
 public:
  static constexpr uint32_t BUF_SIZE = 256 * 1024;  // each direction's ring
  static constexpr int MAX_BACKLOG = 4096;          // net.core.somaxconn

  explicit TcpSocket(Family f = Family::Inet);
  Family family() const override { return family_; }
  SockType type() const override { return SockType::Stream; }
  Result<void> bind(const Address& a) override;
  Result<void> listen(int backlog, const Creds& me) override;
  Result<SocketRef> accept(bool nonblock) override;
  Result<void> connect(const Address& a, bool nonblock, const Creds& me) override;
  Result<void> shutdown(Shut how) override;
  Result<size_t> sendmsg(SendMsg& m) override;
  Result<size_t> recvmsg(RecvMsg& m) override;
  Result<int> get_option(SockOpt o) override;
  Result<void> set_option(SockOpt o, int value) override;
  Result<void> name(Address& out) override;
  Result<void> peer_name(Address& out) override;
  size_t bytes_readable() override;
  size_t bytes_unsent() override;
  Result<void> tcp_info(TcpInfo& out) override;
  void close() override;
  uint32_t poll_events() override;

  // A segment for this connection or listener (tcp_input found it).
  void input(const IpMeta& h, const TcpSegment& s);
  void icmp_error(Error e);
  // After mu_ is dropped: leave the tables once done (releases their reference).
  void settle();

  Binding port_;         // in g_ports while bound (listeners, connecting sockets)
  Binding conn_;         // in g_conns while it has a peer
  ListNode accept_node;  // in a listener's accept queue (holds a reference)

 protected:
  ~TcpSocket() override;

 private:
  friend void tcp_timer_fired(KernelTimer& t);
  // Input by state (RFC 793 "SEGMENT ARRIVES").
  void input_listen_locked(const IpMeta& h, const TcpSegment& s) REQUIRES(mu_);
  void set_families_locked() REQUIRES(mu_);
  void input_syn_sent_locked(const TcpSegment& s) REQUIRES(mu_);
  void input_other_locked(const TcpSegment& s) REQUIRES(mu_);
  bool ack_locked(const TcpSegment& s) REQUIRES(mu_);
  void data_locked(const TcpSegment& s) REQUIRES(mu_);
  void queue_ooo_locked(uint32_t seq, const uint8_t* data, uint32_t len, bool fin) REQUIRES(mu_);
  void release_rcvbuf_locked() REQUIRES(mu_);
  void retransmit_first_locked() REQUIRES(mu_);
  bool retransmit_hole_locked() REQUIRES(mu_);
  uint32_t sacked_bytes_above_una_locked() const REQUIRES(mu_);
  void sack_input_locked(const TcpSegment& s) REQUIRES(mu_);
  void rtt_sample_locked(uint64_t r) REQUIRES(mu_);
  uint32_t ts_now_locked() const REQUIRES(mu_);
  uint32_t send_mss_locked() const REQUIRES(mu_);
  // Output.
  void send_segment_locked(uint8_t flags, uint32_t seq, uint32_t data_off, uint32_t len, bool syn_options)
      REQUIRES(mu_);
  void send_ack_locked() REQUIRES(mu_);
  void output_locked(bool force_one = false) REQUIRES(mu_);
  void send_rst_locked() REQUIRES(mu_);
  uint32_t rcv_window_locked() const REQUIRES(mu_);
  uint16_t advertised_window_locked() REQUIRES(mu_);
  // State.
  void established_locked() REQUIRES(mu_);
  void set_error_locked(Error e) REQUIRES(mu_);
  void enter_time_wait_locked() REQUIRES(mu_);
  void done_locked() REQUIRES(mu_);
  void rearm_locked() REQUIRES(mu_);
  void wake_locked(uint32_t events) REQUIRES(mu_);
  void timer_locked(uint64_t now) REQUIRES(mu_);
  void finish_close_locked() REQUIRES(mu_);
  Result<void> wait_locked(event::WaitList& w, const char* what, uint64_t deadline) REQUIRES(mu_);
 public:
  // /proc/net/tcp's view; false when the socket is not to be listed
  // (from_ports: a listener's pass, which skips what is in g_conns).
  bool proc_info(InetSockInfo& out, bool from_ports);
 private:

  const Family family_;  // AF_INET or AF_INET6 (an accepted child's is its listener's)
  Mutex mu_;
  TcpState state_ GUARDED_BY(mu_) = TcpState::Closed;
  bool v6only_ GUARDED_BY(mu_) = false;  // IPV6_V6ONLY
  uint32_t scope_ GUARDED_BY(mu_) = 0;   // a link-local peer's interface
  bool hashed_ GUARDED_BY(mu_) = false;     // in g_conns with the table's reference
  bool unhash_ GUARDED_BY(mu_) = false;     // done: settle() takes it out
  bool closed_ GUARDED_BY(mu_) = false;     // the descriptor went away
  bool was_connected_ GUARDED_BY(mu_) = false;
  Error err_ GUARDED_BY(mu_) = Error::None; // SO_ERROR (a reset, a refusal, a timeout)
  bool rcv_shut_ GUARDED_BY(mu_) = false;   // SHUT_RD, or the peer's FIN came
  bool fin_rcvd_ GUARDED_BY(mu_) = false;
  bool snd_shut_ GUARDED_BY(mu_) = false;   // SHUT_WR or close: FIN queued after the data
  bool fin_sent_ GUARDED_BY(mu_) = false;
  bool reset_ GUARDED_BY(mu_) = false;      // ended by a reset: sends get EPIPE after the error

  // Send side (RFC 793 3.2).
  uint32_t iss_ GUARDED_BY(mu_) = 0, snd_una_ GUARDED_BY(mu_) = 0, snd_nxt_ GUARDED_BY(mu_) = 0,
      snd_max_ GUARDED_BY(mu_) = 0;
  uint32_t snd_wnd_ GUARDED_BY(mu_) = 0, snd_wl1_ GUARDED_BY(mu_) = 0, snd_wl2_ GUARDED_BY(mu_) = 0;
  uint32_t snd_buf_seq_ GUARDED_BY(mu_) = 0;  // the sequence number of sndbuf_'s first byte
  TcpRing sndbuf_ GUARDED_BY(mu_);
  uint16_t mss_ GUARDED_BY(mu_) = 536;        // what the peer takes (RFC 1122 4.2.2.6 default)
  uint32_t tso_max_ GUARDED_BY(mu_) = 0;      // the route's device cuts segments (IPv4 packets up to this); 0: none
  // Congestion control (tcp_cc.h) and loss recovery (RFC 5681, RFC 6582).
  TcpCc cc_ GUARDED_BY(mu_);
  uint32_t dupacks_ GUARDED_BY(mu_) = 0;
  uint32_t recover_ GUARDED_BY(mu_) = 0;      // RFC 6582's "recover": snd_max_ when the loss was seen
  bool recover_set_ GUARDED_BY(mu_) = false;  // recover_ still ahead of snd_una_
  // SACK (RFC 2018, RFC 6675): negotiated in the SYNs; the sender's
  // scoreboard of what the peer holds above snd_una_, and how far holes
  // were sent again in this recovery.
  bool sack_ok_ GUARDED_BY(mu_) = false;
  TcpOoo sacked_ GUARDED_BY(mu_);
  uint32_t high_rxt_ GUARDED_BY(mu_) = 0;
  // Timestamps (RFC 7323 3-5): negotiated in the SYNs; TS.Recent, the
  // ACK field last sent, our clock's offset; one RTT sample per flight.
  bool ts_ok_ GUARDED_BY(mu_) = false;
  uint32_t ts_recent_ GUARDED_BY(mu_) = 0;
  uint32_t last_ack_sent_ GUARDED_BY(mu_) = 0;
  uint32_t ts_offset_ GUARDED_BY(mu_) = 0;
  uint32_t ts_sample_seq_ GUARDED_BY(mu_) = 0;
  uint8_t snd_wscale_ GUARDED_BY(mu_) = 0, rcv_wscale_ GUARDED_BY(mu_) = 0;
  bool wscale_ok_ GUARDED_BY(mu_) = false;
  // Receive side.
  uint32_t irs_ GUARDED_BY(mu_) = 0, rcv_nxt_ GUARDED_BY(mu_) = 0;
  uint32_t rcv_adv_ GUARDED_BY(mu_) = 0;      // right edge last advertised
  TcpRing rcvbuf_ GUARDED_BY(mu_);
  TcpOoo ooo_ GUARDED_BY(mu_);                // what arrived past rcv_nxt_ (bytes in rcvbuf_ past its end)
  bool ooo_fin_ GUARDED_BY(mu_) = false;      // a FIN came after the out-of-order data, at ooo_fin_seq_
  uint32_t ooo_fin_seq_ GUARDED_BY(mu_) = 0;
  bool ack_now_ GUARDED_BY(mu_) = false;
  uint32_t unacked_segs_ GUARDED_BY(mu_) = 0; // received since the last ACK (delayed ACK)
  uint32_t quick_acks_ GUARDED_BY(mu_) = 16;  // TCP_MAX_QUICKACKS

  // Timers (one KernelTimer, the earliest of these; 0: not set).
  KernelTimer timer_;
  uint64_t rtx_at_ GUARDED_BY(mu_) = 0, dack_at_ GUARDED_BY(mu_) = 0, keep_at_ GUARDED_BY(mu_) = 0,
      end_at_ GUARDED_BY(mu_) = 0;  // end_at_: TIME_WAIT or orphaned FIN_WAIT2 ends
  uint64_t cork_at_ GUARDED_BY(mu_) = 0;   // TCP_CORK's ceiling for a held partial segment
  bool cork_flush_ GUARDED_BY(mu_) = false;  // the ceiling passed: output sends the partial segment
  uint64_t armed_at_ GUARDED_BY(mu_) = 0;
  // RFC 6298 state, in ns.
  uint64_t srtt_ GUARDED_BY(mu_) = 0, rttvar_ GUARDED_BY(mu_) = 0, rto_ GUARDED_BY(mu_) = 0;
  bool rtt_timing_ GUARDED_BY(mu_) = false;
  uint32_t rtt_seq_ GUARDED_BY(mu_) = 0;
  uint64_t rtt_start_ GUARDED_BY(mu_) = 0;
  uint32_t retries_ GUARDED_BY(mu_) = 0;
  uint32_t total_retrans_ GUARDED_BY(mu_) = 0;
  uint32_t keep_probes_ GUARDED_BY(mu_) = 0;
  uint64_t last_rcv_ns_ GUARDED_BY(mu_) = 0;
  uint64_t nud_confirmed_ns_ GUARDED_BY(mu_) = 0;  // the last reachability confirmation to ND (IPv6)

  // Listener.
  int backlog_ GUARDED_BY(mu_) = 0;
  uint32_t syn_queue_ GUARDED_BY(mu_) = 0;  // children in SYN_RECEIVED
  IntrusiveList<TcpSocket, &TcpSocket::accept_node> accept_q_ GUARDED_BY(mu_);
  TcpRef listener_ GUARDED_BY(mu_);          // a child until accepted

  // Options.
  std::atomic<int> sndbuf_opt_{int(BUF_SIZE)}, rcvbuf_opt_{int(BUF_SIZE)}, ttl_{64}, tos_{0};
  std::atomic<int> linger_{-1}, keepidle_{7200}, keepintvl_{75}, keepcnt_{9}, user_mss_{0};
  std::atomic<bool> nodelay_{false}, keepalive_{false}, cork_{false};
  std::atomic<uint8_t> cc_algo_{uint8_t(CcAlgo::Cubic)};  // TCP_CONGESTION
  bool user_port_ GUARDED_BY(mu_) = false;
  bool connect_pending_ GUARDED_BY(mu_) = false;  // a non-blocking connect not reported yet

  event::WaitList read_wait_, write_wait_, state_wait_;
};

// socket(AF_INET or AF_INET6, SOCK_STREAM).
Socket* tcp_new_socket(Family f);

}  // namespace capsule::net
