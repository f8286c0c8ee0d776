#pragma once
// TCP congestion control (docs/net.md "Congestion control"): the window
// arithmetic alone, no sockets, no clocks of its own; unit-tested
// (tests/unit/tcp_cc_test.cc).
//
// RFC 5681: slow start, congestion avoidance, cwnd and ssthresh, the
// initial window of RFC 6928 and the loss window after a timeout;
// RFC 6582 (NewReno): the window during fast recovery (inflated by each
// duplicate ACK, deflated by partial ACKs, set back at the end);
// RFC 9438 (CUBIC, the default): the cubic window growth with its
// Reno-friendly region, fast convergence and beta 0.7 on a loss.
// Windows are in bytes, times in ns, integers only (the kernel has no
// floating point); CUBIC's t and K are kept in ms.
#include <cstdint>

namespace capsule::net {

enum class CcAlgo : uint8_t { Reno = 0, Cubic = 1 };

// The algorithm's name as TCP_CONGESTION says it ("reno", "cubic"), and back
// (false: unknown).
const char* cc_name(CcAlgo a);
bool cc_from_name(const char* name, CcAlgo& out);

// RFC 9438 4.1-4.2 in integers: K (ms) for a window that falls from
// w_max to cwnd_epoch bytes (K = cbrt((W_max - cwnd_epoch) / C), C = 0.4
// segments/s^3), and W_cubic(t) = C (t - K)^3 + W_max in bytes.
int64_t cubic_k_ms(uint32_t w_max, uint32_t cwnd_epoch, uint32_t mss);
uint64_t cubic_window(int64_t t_ms, int64_t k_ms, uint32_t w_max, uint32_t mss);
// The integer cube root (floor).
uint64_t icbrt(uint64_t x);

class TcpCc {
 public:
  static constexpr uint32_t SSTHRESH_INFINITE = 0xffffffffu;

  // A new connection's window: RFC 6928's min(10 MSS, max(2 MSS, 14600)).
  void init(CcAlgo algo, uint32_t mss);
  void set_algo(CcAlgo algo);
  void set_mss(uint32_t mss) { mss_ = mss ? mss : 536; }
  CcAlgo algo() const { return algo_; }
  uint32_t cwnd() const { return cwnd_; }
  uint32_t ssthresh() const { return ssthresh_; }
  bool in_recovery() const { return recovery_; }
  uint32_t w_max() const { return w_max_; }
  int64_t k_ms() const { return k_ms_; }

  // New data acknowledged outside recovery (`acked` bytes, the smoothed
  // RTT for CUBIC's t + RTT): slow start below ssthresh, else congestion
  // avoidance (Reno's one MSS per window, or CUBIC).
  void on_ack(uint32_t acked, uint64_t now_ns, uint64_t srtt_ns);
  // The third duplicate ACK (RFC 5681 3.2 steps 2-3, RFC 9438 4.6):
  // ssthresh from the flight size, cwnd = ssthresh + 3 MSS.
  void enter_recovery(uint32_t flight, uint64_t now_ns);
  // Another duplicate ACK in recovery: cwnd grows by an MSS (step 4).
  void on_dupack_in_recovery() { cwnd_ += mss_; }
  // RFC 6582 3.2 step 5: a partial ACK deflates by what it acknowledged
  // and adds back one MSS when that was at least an MSS.
  void on_partial_ack(uint32_t acked);
  // The full ACK ends recovery: cwnd = min(ssthresh, max(flight, MSS) + MSS).
  void exit_recovery(uint32_t flight);
  // RFC 6298 5.5 / RFC 5681 3.1: a retransmission timeout; ssthresh as for
  // a loss (only at the first timeout of a segment: the next ones keep it,
  // RFC 5681 eq. 4's note), cwnd one MSS (the loss window), recovery
  // abandoned.
  void on_timeout(uint32_t flight, bool first);
  // RFC 6298 5.7: the SYN was retransmitted: the window starts at one MSS.
  void syn_lost() { cwnd_ = mss_; }

 private:
  uint32_t decreased_ssthresh(uint32_t flight) const;
  void cubic_congestion_event();
  void cubic_ca(uint32_t acked, uint64_t now_ns, uint64_t srtt_ns);

  CcAlgo algo_ = CcAlgo::Cubic;
  uint32_t mss_ = 536;
  uint32_t cwnd_ = 0, ssthresh_ = SSTHRESH_INFINITE;
  bool recovery_ = false;
  uint64_t ca_acc_ = 0;  // Reno: bytes acknowledged toward the next MSS; CUBIC: the increase's remainder
  // CUBIC (RFC 9438 4.1).
  uint32_t w_max_ = 0;        // the window before the last reduction
  uint32_t cwnd_prior_ = 0;   // cwnd when the last congestion event came
  uint64_t epoch_ns_ = 0;     // start of the congestion-avoidance epoch (0: none)
  int64_t k_ms_ = 0;
  uint64_t w_est_x_ = 0;      // the Reno-friendly estimate, bytes << 10
};

}  // namespace capsule::net
