// TCP congestion control's arithmetic (net/inet/tcp_cc.h): RFC 5681's slow
// start and congestion avoidance, RFC 6928's initial window, RFC 6582's
// fast recovery, RFC 9438's CUBIC. The CUBIC figures are computed here
// from the RFC's equations in floating point and compared with the
// kernel's integer arithmetic.
#include <gtest/gtest.h>

#include <cmath>

#include "net/inet/tcp_cc.h"

using namespace capsule::net;

namespace {

constexpr uint32_t MSS = 1460;
constexpr uint64_t MS = 1'000'000;
constexpr double C = 0.4, BETA = 0.7;

// RFC 9438 eq. 2 and 1, in segments and seconds.
double rfc_k(double w_max, double cwnd_epoch) { return std::cbrt((w_max - cwnd_epoch) / C); }
double rfc_w_cubic(double t, double k, double w_max) { return C * (t - k) * (t - k) * (t - k) + w_max; }

TEST(TcpCc, Names) {
  CcAlgo a;
  EXPECT_TRUE(cc_from_name("reno", a));
  EXPECT_EQ(a, CcAlgo::Reno);
  EXPECT_TRUE(cc_from_name("cubic", a));
  EXPECT_EQ(a, CcAlgo::Cubic);
  EXPECT_FALSE(cc_from_name("bbr", a));
  EXPECT_FALSE(cc_from_name("cubi", a));
  EXPECT_FALSE(cc_from_name("cubicx", a));
  EXPECT_FALSE(cc_from_name("", a));
  EXPECT_STREQ(cc_name(CcAlgo::Reno), "reno");
  EXPECT_STREQ(cc_name(CcAlgo::Cubic), "cubic");
}

TEST(TcpCc, CubeRoot) {
  for (uint64_t x : {0ull, 1ull, 7ull, 8ull, 26ull, 27ull, 1000ull, 999999ull, 123456789012ull, ~0ull}) {
    uint64_t r = icbrt(x);
    EXPECT_LE((unsigned __int128)r * r * r, x) << x;
    EXPECT_GT((unsigned __int128)(r + 1) * (r + 1) * (r + 1), x) << x;
  }
}

TEST(TcpCc, InitialWindow) {
  // RFC 6928: min(10 MSS, max(2 MSS, 14600)).
  TcpCc cc;
  cc.init(CcAlgo::Reno, 1460);
  EXPECT_EQ(cc.cwnd(), 14600u);
  cc.init(CcAlgo::Reno, 536);
  EXPECT_EQ(cc.cwnd(), 5360u);
  cc.init(CcAlgo::Cubic, 65495);  // loopback
  EXPECT_EQ(cc.cwnd(), 130990u);
  EXPECT_EQ(cc.ssthresh(), TcpCc::SSTHRESH_INFINITE);
  cc.syn_lost();  // RFC 6298 5.7
  EXPECT_EQ(cc.cwnd(), 65495u);
}

TEST(TcpCc, RenoSlowStartAndAvoidance) {
  TcpCc cc;
  cc.init(CcAlgo::Reno, MSS);
  cc.on_ack(MSS, 0, 0);
  EXPECT_EQ(cc.cwnd(), 11 * MSS);
  cc.on_ack(3 * MSS, 0, 0);  // byte counting, at most 2 MSS per ACK (RFC 3465)
  EXPECT_EQ(cc.cwnd(), 13 * MSS);
  // A loss with 20 segments in flight: ssthresh 10, cwnd 10 + 3.
  cc.enter_recovery(20 * MSS, 0);
  EXPECT_TRUE(cc.in_recovery());
  EXPECT_EQ(cc.ssthresh(), 10 * MSS);
  EXPECT_EQ(cc.cwnd(), 13 * MSS);
  cc.on_dupack_in_recovery();
  EXPECT_EQ(cc.cwnd(), 14 * MSS);
  cc.on_ack(MSS, 0, 0);  // ignored in recovery
  EXPECT_EQ(cc.cwnd(), 14 * MSS);
  cc.on_partial_ack(2 * MSS);  // deflate by 2, add back 1 (RFC 6582 3.2 step 5)
  EXPECT_EQ(cc.cwnd(), 13 * MSS);
  cc.on_partial_ack(100);
  EXPECT_EQ(cc.cwnd(), 13 * MSS - 100);
  cc.exit_recovery(5 * MSS);  // min(ssthresh, max(flight, MSS) + MSS)
  EXPECT_FALSE(cc.in_recovery());
  EXPECT_EQ(cc.cwnd(), 6 * MSS);
  // Slow start up to ssthresh, then one MSS per window.
  for (int i = 0; i < 4; ++i) cc.on_ack(MSS, 0, 0);
  EXPECT_EQ(cc.cwnd(), 10 * MSS);
  for (int i = 0; i < 9; ++i) cc.on_ack(MSS, 0, 0);
  EXPECT_EQ(cc.cwnd(), 10 * MSS);
  cc.on_ack(MSS, 0, 0);  // the tenth: a window's worth
  EXPECT_EQ(cc.cwnd(), 11 * MSS);
  // The minimum ssthresh is 2 MSS.
  cc.enter_recovery(MSS, 0);
  EXPECT_EQ(cc.ssthresh(), 2 * MSS);
}

TEST(TcpCc, Timeout) {
  TcpCc cc;
  cc.init(CcAlgo::Reno, MSS);
  cc.on_timeout(16 * MSS, true);
  EXPECT_EQ(cc.cwnd(), MSS);
  EXPECT_EQ(cc.ssthresh(), 8 * MSS);
  cc.on_timeout(MSS, false);  // the same segment again: ssthresh stays
  EXPECT_EQ(cc.ssthresh(), 8 * MSS);
  EXPECT_EQ(cc.cwnd(), MSS);
  cc.enter_recovery(16 * MSS, 0);
  cc.on_timeout(16 * MSS, true);
  EXPECT_FALSE(cc.in_recovery());
}

TEST(TcpCc, CubicFormulas) {
  // K for W_max 100 segments, cwnd_epoch 70: cbrt(30 / 0.4) s.
  int64_t k = cubic_k_ms(100 * MSS, 70 * MSS, MSS);
  EXPECT_NEAR(double(k), rfc_k(100, 70) * 1000, 1.0);
  EXPECT_EQ(cubic_k_ms(100 * MSS, 100 * MSS, MSS), 0);
  EXPECT_EQ(cubic_k_ms(100 * MSS, 120 * MSS, MSS), 0);
  // W_cubic(t) at several t, against eq. 1 (within a byte or two of
  // rounding, and K's millisecond).
  for (double t : {0.0, 0.5, 1.0, 2.0, 4.0, 4.2, 5.0, 6.0, 8.0, 20.0}) {
    double want = rfc_w_cubic(t, double(k) / 1000, 100) * MSS;
    double got = double(cubic_window(int64_t(t * 1000), k, 100 * MSS, MSS));
    EXPECT_NEAR(got, want, 2.0) << "t=" << t;
  }
  // At t = 0 the window is cwnd_epoch, at t = K W_max.
  EXPECT_NEAR(double(cubic_window(0, k, 100 * MSS, MSS)), 70.0 * MSS, 0.01 * MSS);
  EXPECT_EQ(cubic_window(k, k, 100 * MSS, MSS), 100u * MSS);
  // Far out it saturates instead of wrapping.
  EXPECT_EQ(cubic_window(1'000'000'000, 0, 100 * MSS, MSS), 0xffffffffull);
  EXPECT_EQ(cubic_window(-1'000'000'000, 0, 100 * MSS, MSS), 0u);
}

// Grows a window to `segs` segments in slow start, then loses.
void grow_and_lose(TcpCc& cc, uint32_t segs) {
  cc.init(CcAlgo::Cubic, MSS);
  while (cc.cwnd() < segs * MSS) cc.on_ack(MSS, 0, 0);
  ASSERT_EQ(cc.cwnd(), segs * MSS);
  cc.enter_recovery(cc.cwnd(), 0);
}

TEST(TcpCc, CubicDecrease) {
  // RFC 9438 4.6: ssthresh = flight * 0.7, W_max = cwnd.
  TcpCc cc;
  grow_and_lose(cc, 100);
  EXPECT_EQ(cc.ssthresh(), 70 * MSS);
  EXPECT_EQ(cc.w_max(), 100 * MSS);
  EXPECT_EQ(cc.cwnd(), 73 * MSS);
  cc.exit_recovery(70 * MSS);
  EXPECT_EQ(cc.cwnd(), 70 * MSS);
  // 4.7, fast convergence: a loss before getting back to W_max sets W_max
  // to cwnd * (1 + 0.7) / 2.
  cc.enter_recovery(80 * MSS, 0);
  EXPECT_EQ(cc.w_max(), uint32_t(70 * MSS * (1 + BETA) / 2));
  EXPECT_EQ(cc.ssthresh(), 56 * MSS);
}

TEST(TcpCc, CubicGrowthFollowsTheCurve) {
  // After a loss at 100 segments, a window's worth of ACKs per RTT (100
  // ms): cwnd follows the larger of W_cubic (eq. 1, K from eq. 2) and the
  // Reno estimate W_est (4.3, computed here alongside): never below it
  // (less a segment or two: each RTT closes part of the gap to the target)
  // nor above W_cubic(t + RTT).
  TcpCc cc;
  grow_and_lose(cc, 100);
  cc.exit_recovery(70 * MSS);
  const uint64_t rtt = 100 * MS;
  const double k = rfc_k(100, 70);
  const double alpha = 3 * (1 - BETA) / (1 + BETA);
  double w_est = 70;
  uint64_t now = 1'000'000'000;  // the epoch starts at the first ACK after recovery
  const uint64_t start = now;
  bool cubic_led = false, reno_led = false;
  for (int round = 0; round < 80; ++round) {
    uint32_t segs = cc.cwnd() / MSS;
    double cwnd = double(cc.cwnd()) / MSS;
    for (uint32_t i = 0; i < segs; ++i) {
      cc.on_ack(MSS, now + rtt * i / segs, rtt);
      w_est += (w_est >= 100 ? 1.0 : alpha) / cwnd;
    }
    now += rtt;
    double t = double(now - start) / 1e9;
    double lo = std::max(rfc_w_cubic(t - 0.1, k, 100), w_est) - 2;
    double hi = std::max(rfc_w_cubic(t + 0.1, k, 100), w_est) + 1;
    double w = double(cc.cwnd()) / MSS;
    EXPECT_GE(w, lo) << "t=" << t;
    EXPECT_LE(w, hi) << "t=" << t;
    (rfc_w_cubic(t, k, 100) > w_est ? cubic_led : reno_led) = true;
  }
  EXPECT_TRUE(cubic_led);  // the concave part, up to W_max at K = 4.2 s
  EXPECT_TRUE(reno_led);   // after W_max, alpha = 1 outgrows the slow start of the convex part
  // At t = K the curve is back at W_max; 8 s in, the window is past it.
  EXPECT_NEAR(double(cubic_window(int64_t(k * 1000), cc.k_ms(), cc.w_max(), MSS)) / MSS, 100.0, 0.01);
  EXPECT_GT(cc.cwnd(), 100 * MSS);
}

TEST(TcpCc, CubicRenoFriendly) {
  // A short RTT (1 ms): the Reno estimate of RFC 9438 4.3 (W_est += alpha *
  // acked / cwnd, alpha = 3 (1 - 0.7) / (1 + 0.7) until W_est reaches
  // cwnd_prior, then 1) outgrows the cubic curve, and cwnd = W_est.
  TcpCc cc;
  grow_and_lose(cc, 10);
  cc.exit_recovery(7 * MSS);
  ASSERT_EQ(cc.cwnd(), 7 * MSS);
  const uint64_t rtt = 1 * MS;
  const double alpha = 3 * (1 - BETA) / (1 + BETA);
  double w_est = 7, cwnd = 7;
  uint64_t now = 1'000'000'000;
  const uint64_t start = now;
  for (int round = 0; round < 40; ++round) {
    uint32_t segs = cc.cwnd() / MSS;
    for (uint32_t i = 0; i < segs; ++i) {
      uint64_t at = now + rtt * i / segs;
      cc.on_ack(MSS, at, rtt);
      w_est += (w_est >= 10 ? 1.0 : alpha) / cwnd;
      double t = double(at - start) / 1e9;
      if (rfc_w_cubic(t, rfc_k(10, 7), 10) < w_est) cwnd = std::max(cwnd, w_est);
    }
    now += rtt;
    EXPECT_NEAR(double(cc.cwnd()) / MSS, cwnd, 0.02 * cwnd) << "round " << round;
  }
  // 40 RTTs: well past 7 + 40 * alpha, and far above the cubic curve.
  EXPECT_GT(double(cc.cwnd()) / MSS, 7 + 40 * alpha * 0.9);
  EXPECT_GT(double(cc.cwnd()) / MSS, rfc_w_cubic(0.04, rfc_k(10, 7), 10) + 5);
}

TEST(TcpCc, SwitchingAlgorithms) {
  TcpCc cc;
  cc.init(CcAlgo::Cubic, MSS);
  cc.set_algo(CcAlgo::Reno);
  EXPECT_EQ(cc.algo(), CcAlgo::Reno);
  cc.enter_recovery(20 * MSS, 0);
  EXPECT_EQ(cc.ssthresh(), 10 * MSS);  // Reno's half
}

}  // namespace
