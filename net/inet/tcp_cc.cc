// TCP congestion control (net/inet/tcp_cc.h): RFC 5681, RFC 6582, RFC 9438.
#include "net/inet/tcp_cc.h"

namespace capsule::net {

namespace {

constexpr uint64_t NS_PER_MS = 1'000'000;
constexpr int64_t MAX_T_MS = 10'000'000;  // (t - K) is clamped to +-10^4 s: the cube stays in range
// CUBIC's constants (RFC 9438 5.1, 5.2): C = 0.4 segments/s^3, beta = 0.7;
// the Reno-friendly alpha = 3 (1 - beta) / (1 + beta) = 9/17.
constexpr uint32_t BETA_NUM = 7, BETA_DEN = 10;
constexpr uint32_t ALPHA_NUM = 9, ALPHA_DEN = 17;

uint32_t clamp32(uint64_t v) { return v > 0xffffffffull ? 0xffffffffu : uint32_t(v); }

}  // namespace

const char* cc_name(CcAlgo a) { return a == CcAlgo::Reno ? "reno" : "cubic"; }

bool cc_from_name(const char* name, CcAlgo& out) {
  auto eq = [](const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
  };
  if (eq(name, "reno")) return out = CcAlgo::Reno, true;
  if (eq(name, "cubic")) return out = CcAlgo::Cubic, true;
  return false;
}

uint64_t icbrt(uint64_t x) {
  uint64_t lo = 0, hi = 2642245;  // cbrt(2^64) < 2642246
  while (lo < hi) {
    uint64_t mid = (lo + hi + 1) / 2;
    if (mid * mid * mid <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

int64_t cubic_k_ms(uint32_t w_max, uint32_t cwnd_epoch, uint32_t mss) {
  if (cwnd_epoch >= w_max || !mss) return 0;
  // K [s] = cbrt((W_max - cwnd_epoch) [segments] / 0.4), so
  // K [ms] = cbrt((W_max - cwnd_epoch) [bytes] / mss * 2.5 * 10^9).
  unsigned __int128 x = (unsigned __int128)(w_max - cwnd_epoch) * 2'500'000'000ull / mss;
  return int64_t(icbrt(uint64_t(x)));
}

uint64_t cubic_window(int64_t t_ms, int64_t k_ms, uint32_t w_max, uint32_t mss) {
  int64_t d = t_ms - k_ms;
  if (d > MAX_T_MS) d = MAX_T_MS;
  if (d < -MAX_T_MS) d = -MAX_T_MS;
  // C (t - K)^3 segments = 0.4 * d^3 / 10^9 segments, times mss bytes.
  __int128 cube = (__int128)d * d * d;
  __int128 bytes = cube * 4 * mss / 10'000'000'000ll;
  __int128 w = (__int128)w_max + bytes;
  if (w < 0) return 0;
  if (w > 0xffffffffll) return 0xffffffffull;
  return uint64_t(w);
}

void TcpCc::init(CcAlgo algo, uint32_t mss) {
  algo_ = algo;
  set_mss(mss);
  uint64_t iw = 10ull * mss_;
  uint64_t floor = 2ull * mss_ > 14600 ? 2ull * mss_ : 14600;
  cwnd_ = clamp32(iw < floor ? iw : floor);
  ssthresh_ = SSTHRESH_INFINITE;
  recovery_ = false;
  ca_acc_ = 0;
  w_max_ = cwnd_prior_ = 0;
  epoch_ns_ = 0;
  k_ms_ = 0;
  w_est_x_ = 0;
}

void TcpCc::set_algo(CcAlgo algo) {
  if (algo == algo_) return;
  algo_ = algo;
  ca_acc_ = 0;
  epoch_ns_ = 0;  // CUBIC starts a new epoch from the current window
}

uint32_t TcpCc::decreased_ssthresh(uint32_t flight) const {
  uint64_t s = algo_ == CcAlgo::Cubic ? uint64_t(flight) * BETA_NUM / BETA_DEN : flight / 2;
  return clamp32(s < 2ull * mss_ ? 2ull * mss_ : s);
}

void TcpCc::cubic_congestion_event() {
  // RFC 9438 4.6-4.7: remember the window, with fast convergence: a window
  // that did not get back to the last W_max releases bandwidth sooner.
  cwnd_prior_ = cwnd_;
  if (cwnd_ < w_max_) w_max_ = uint32_t(uint64_t(cwnd_) * (BETA_DEN + BETA_NUM) / (2 * BETA_DEN));
  else w_max_ = cwnd_;
  epoch_ns_ = 0;
}

void TcpCc::on_ack(uint32_t acked, uint64_t now_ns, uint64_t srtt_ns) {
  if (recovery_ || !acked) return;
  if (cwnd_ < ssthresh_) {
    // Slow start (RFC 5681 3.1), counting bytes with RFC 3465's L = 2 MSS.
    uint32_t inc = acked < 2 * mss_ ? acked : 2 * mss_;
    cwnd_ = clamp32(uint64_t(cwnd_) + inc);
    return;
  }
  if (algo_ == CcAlgo::Reno) {
    // Congestion avoidance: one MSS per window's worth of acknowledged bytes.
    ca_acc_ += acked;
    if (ca_acc_ >= cwnd_) {
      ca_acc_ -= cwnd_;
      cwnd_ = clamp32(uint64_t(cwnd_) + mss_);
    }
    return;
  }
  cubic_ca(acked, now_ns, srtt_ns);
}

void TcpCc::cubic_ca(uint32_t acked, uint64_t now_ns, uint64_t srtt_ns) {
  if (!epoch_ns_) {
    // A new epoch (RFC 9438 4.2): K from where the window stands; a window
    // already past W_max starts a new curve from itself.
    epoch_ns_ = now_ns ? now_ns : 1;
    if (cwnd_ >= w_max_) w_max_ = cwnd_;
    k_ms_ = cubic_k_ms(w_max_, cwnd_, mss_);
    w_est_x_ = uint64_t(cwnd_) << 10;
    ca_acc_ = 0;
  }
  int64_t t_ms = int64_t((now_ns - epoch_ns_) / NS_PER_MS);
  // The Reno-friendly estimate (RFC 9438 4.3): W_est += alpha * acked / cwnd
  // segments, alpha 1 once W_est has reached cwnd_prior.
  uint64_t step = (uint64_t(acked) * mss_ << 10) / cwnd_;
  if ((w_est_x_ >> 10) >= cwnd_prior_) w_est_x_ += step;
  else w_est_x_ += step * ALPHA_NUM / ALPHA_DEN;
  uint64_t w_est = w_est_x_ >> 10;
  if (cubic_window(t_ms, k_ms_, w_max_, mss_) < w_est) {
    cwnd_ = clamp32(w_est > cwnd_ ? w_est : cwnd_);
    return;
  }
  // Concave and convex regions (RFC 9438 4.4-4.5): aim at W_cubic(t + RTT),
  // between cwnd and 1.5 cwnd, and move (target - cwnd) / cwnd per MSS.
  uint64_t target = cubic_window(t_ms + int64_t(srtt_ns / NS_PER_MS), k_ms_, w_max_, mss_);
  uint64_t hi = uint64_t(cwnd_) * 3 / 2;
  if (target < cwnd_) target = cwnd_;
  if (target > hi) target = hi;
  ca_acc_ += (target - cwnd_) * acked;
  uint64_t inc = ca_acc_ / cwnd_;
  ca_acc_ %= cwnd_;
  cwnd_ = clamp32(uint64_t(cwnd_) + inc);
}

void TcpCc::enter_recovery(uint32_t flight, uint64_t) {
  if (algo_ == CcAlgo::Cubic) cubic_congestion_event();
  ssthresh_ = decreased_ssthresh(flight);
  cwnd_ = clamp32(uint64_t(ssthresh_) + 3ull * mss_);
  recovery_ = true;
  ca_acc_ = 0;
}

void TcpCc::on_partial_ack(uint32_t acked) {
  cwnd_ = acked < cwnd_ ? cwnd_ - acked : mss_;
  if (acked >= mss_) cwnd_ = clamp32(uint64_t(cwnd_) + mss_);
  if (cwnd_ < mss_) cwnd_ = mss_;
}

void TcpCc::exit_recovery(uint32_t flight) {
  uint64_t f = (flight > mss_ ? flight : mss_) + uint64_t(mss_);
  cwnd_ = clamp32(f < ssthresh_ ? f : ssthresh_);
  recovery_ = false;
  ca_acc_ = 0;
}

void TcpCc::on_timeout(uint32_t flight, bool first) {
  if (first) {
    if (algo_ == CcAlgo::Cubic) cubic_congestion_event();
    ssthresh_ = decreased_ssthresh(flight);
  }
  cwnd_ = mss_;
  recovery_ = false;
  ca_acc_ = 0;
}

}  // namespace capsule::net
