// Neighbor Discovery's state machines (net/inet/nd_state.cc): neighbor
// unreachability detection as RFC 4861 7.3 and appendix C's table have
// it, duplicate address detection (RFC 4862 5.4) and the lifetime rules of
// RFC 4862 5.5.3, stepped with explicit times.
#include <gtest/gtest.h>

#include <cstring>

#include "net/inet/nd_state.h"

using namespace capsule::net;

namespace {

constexpr uint64_t S = 1'000'000'000ull;
const uint8_t MAC_A[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
const uint8_t MAC_B[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};

// A new entry resolved by a solicited advertisement at `now`.
NudEntry reachable(uint64_t now, const NdTimes& t) {
  NudEntry e;
  (void)nud_output(e, now, t);
  (void)nud_advert(e, MAC_A, true, true, now, t);
  return e;
}

}  // namespace

TEST(NdState, IncompleteSolicitsThenGivesUp) {
  NdTimes t;
  NudEntry e;
  NudStep s = nud_output(e, 100, t);
  EXPECT_EQ(s.send, NudStep::Multicast);
  EXPECT_FALSE(s.usable);
  // More packets before the timer: no new solicitation (the timer repeats it).
  EXPECT_EQ(nud_output(e, 200, t).send, NudStep::None);
  EXPECT_EQ(nud_timer(e, 100 + t.retrans_ns - 1, t).send, NudStep::None);
  EXPECT_EQ(nud_timer(e, 100 + t.retrans_ns, t).send, NudStep::Multicast);
  EXPECT_EQ(nud_timer(e, 100 + 2 * t.retrans_ns, t).send, NudStep::Multicast);
  // MAX_MULTICAST_SOLICIT (3) sent and RetransTimer passed: unreachable.
  NudStep last = nud_timer(e, 100 + 3 * t.retrans_ns, t);
  EXPECT_EQ(last.send, NudStep::None);
  EXPECT_TRUE(last.give_up);
}

TEST(NdState, AdvertResolves) {
  NdTimes t;
  NudEntry e;
  (void)nud_output(e, 0, t);
  // An NA without a target link-layer address teaches nothing.
  EXPECT_FALSE(nud_advert(e, nullptr, true, true, 10, t).usable);
  EXPECT_EQ(e.state, Nud::Incomplete);
  NudStep s = nud_advert(e, MAC_A, true, false, 10, t);
  EXPECT_TRUE(s.flush && s.usable);
  EXPECT_EQ(e.state, Nud::Reachable);
  EXPECT_EQ(0, memcmp(e.mac, MAC_A, 6));
  EXPECT_EQ(e.deadline, 10 + t.reachable_ns);
  // Unsolicited (a multicast NA): STALE, the address learnt.
  NudEntry u;
  (void)nud_output(u, 0, t);
  EXPECT_TRUE(nud_advert(u, MAC_B, false, true, 5, t).flush);
  EXPECT_EQ(u.state, Nud::Stale);
}

TEST(NdState, ReachableAgesThroughDelayAndProbe) {
  NdTimes t;
  NudEntry e = reachable(0, t);
  // In REACHABLE a packet goes without a question.
  NudStep s = nud_output(e, t.reachable_ns - 1, t);
  EXPECT_TRUE(s.usable);
  EXPECT_EQ(s.send, NudStep::None);
  EXPECT_EQ(e.state, Nud::Reachable);
  // ReachableTime passes: STALE; the next packet still goes, and starts DELAY.
  (void)nud_timer(e, t.reachable_ns, t);
  EXPECT_EQ(e.state, Nud::Stale);
  EXPECT_EQ(e.deadline, 0u);
  const uint64_t at = t.reachable_ns + 7 * S;
  s = nud_output(e, at, t);
  EXPECT_TRUE(s.usable);
  EXPECT_EQ(e.state, Nud::Delay);
  // DELAY_FIRST_PROBE_TIME without confirmation: PROBE, unicast solicitations.
  EXPECT_EQ(nud_timer(e, at + t.delay_ns, t).send, NudStep::Unicast);
  EXPECT_EQ(e.state, Nud::Probe);
  EXPECT_TRUE(nud_output(e, at + t.delay_ns + 1, t).usable);  // PROBE still sends
  EXPECT_EQ(nud_timer(e, at + t.delay_ns + t.retrans_ns, t).send, NudStep::Unicast);
  EXPECT_EQ(nud_timer(e, at + t.delay_ns + 2 * t.retrans_ns, t).send, NudStep::Unicast);
  // MAX_UNICAST_SOLICIT unanswered: gone.
  EXPECT_TRUE(nud_timer(e, at + t.delay_ns + 3 * t.retrans_ns, t).give_up);
}

TEST(NdState, ReachableWithoutTimerRunIsStaleOnUse) {
  // A packet after ReachableTime, before the timer ran, is handled as STALE.
  NdTimes t;
  NudEntry e = reachable(0, t);
  EXPECT_TRUE(nud_output(e, t.reachable_ns + 1, t).usable);
  EXPECT_EQ(e.state, Nud::Delay);
}

TEST(NdState, ProbeAnswered) {
  NdTimes t;
  NudEntry e = reachable(0, t);
  (void)nud_timer(e, t.reachable_ns, t);
  (void)nud_output(e, t.reachable_ns, t);
  (void)nud_timer(e, t.reachable_ns + t.delay_ns, t);
  ASSERT_EQ(e.state, Nud::Probe);
  // The unicast probe's solicited answer: REACHABLE again.
  (void)nud_advert(e, MAC_A, true, true, 40 * S, t);
  EXPECT_EQ(e.state, Nud::Reachable);
  EXPECT_EQ(e.deadline, 40 * S + t.reachable_ns);
  EXPECT_EQ(e.probes, 0);
}

TEST(NdState, DelayConfirmedByUpperLayer) {
  NdTimes t;
  NudEntry e = reachable(0, t);
  (void)nud_timer(e, t.reachable_ns, t);
  (void)nud_output(e, 31 * S, t);
  ASSERT_EQ(e.state, Nud::Delay);
  nud_confirm(e, 32 * S, t);  // TCP saw its data acknowledged
  EXPECT_EQ(e.state, Nud::Reachable);
  EXPECT_EQ(nud_timer(e, 32 * S + t.delay_ns, t).send, NudStep::None);  // no probe
  // An INCOMPLETE entry is not confirmed by an upper layer.
  NudEntry i;
  (void)nud_output(i, 0, t);
  nud_confirm(i, 1, t);
  EXPECT_EQ(i.state, Nud::Incomplete);
}

TEST(NdState, AdvertOverrideRules) {
  NdTimes t;
  // A different address without Override: REACHABLE becomes STALE, the
  // address stays (RFC 4861 7.2.5).
  NudEntry e = reachable(0, t);
  (void)nud_advert(e, MAC_B, true, false, 1, t);
  EXPECT_EQ(e.state, Nud::Stale);
  EXPECT_EQ(0, memcmp(e.mac, MAC_A, 6));
  // ... and in STALE nothing changes.
  (void)nud_advert(e, MAC_B, false, false, 2, t);
  EXPECT_EQ(e.state, Nud::Stale);
  EXPECT_EQ(0, memcmp(e.mac, MAC_A, 6));
  // With Override: the new address; unsolicited, STALE.
  NudEntry o = reachable(0, t);
  (void)nud_advert(o, MAC_B, false, true, 3, t);
  EXPECT_EQ(o.state, Nud::Stale);
  EXPECT_EQ(0, memcmp(o.mac, MAC_B, 6));
  // The same address, unsolicited: no change of state.
  NudEntry same = reachable(0, t);
  (void)nud_advert(same, MAC_A, false, false, 4, t);
  EXPECT_EQ(same.state, Nud::Reachable);
  // Solicited without an option: REACHABLE.
  NudEntry st = reachable(0, t);
  (void)nud_timer(st, t.reachable_ns, t);
  ASSERT_EQ(st.state, Nud::Stale);
  (void)nud_advert(st, nullptr, true, false, 31 * S, t);
  EXPECT_EQ(st.state, Nud::Reachable);
}

TEST(NdState, SourceLinkLayerOption) {
  NdTimes t;
  NudEntry e;
  (void)nud_output(e, 0, t);
  NudStep s = nud_lladdr(e, MAC_A);  // an NS from it answered our question
  EXPECT_TRUE(s.flush);
  EXPECT_EQ(e.state, Nud::Stale);
  NudEntry r = reachable(0, t);
  EXPECT_FALSE(nud_lladdr(r, MAC_A).flush);
  EXPECT_EQ(r.state, Nud::Reachable);  // the same address: unchanged
  (void)nud_lladdr(r, MAC_B);
  EXPECT_EQ(r.state, Nud::Stale);
  EXPECT_EQ(0, memcmp(r.mac, MAC_B, 6));
}

TEST(NdState, Dad) {
  DadEntry d;
  const uint64_t retrans = S;
  EXPECT_TRUE(dad_step(d, 5, 1, retrans));  // the solicitation
  EXPECT_EQ(d.state, Dad::Tentative);
  EXPECT_FALSE(dad_step(d, 5 + retrans - 1, 1, retrans));
  EXPECT_EQ(d.state, Dad::Tentative);
  EXPECT_FALSE(dad_step(d, 5 + retrans, 1, retrans));
  EXPECT_EQ(d.state, Dad::Done);
  dad_conflict(d);  // too late: the address is ours
  EXPECT_EQ(d.state, Dad::Done);
  // Two transmits, a conflict between them.
  DadEntry two;
  EXPECT_TRUE(dad_step(two, 0, 2, retrans));
  EXPECT_TRUE(dad_step(two, retrans, 2, retrans));
  dad_conflict(two);
  EXPECT_EQ(two.state, Dad::Duplicate);
  EXPECT_FALSE(dad_step(two, 5 * retrans, 2, retrans));
  EXPECT_EQ(two.state, Dad::Duplicate);
  // DupAddrDetectTransmits 0: no detection, done at the first step.
  DadEntry none;
  EXPECT_FALSE(dad_step(none, 0, 0, retrans));
  EXPECT_EQ(none.state, Dad::Done);
}

TEST(NdState, Lifetimes) {
  const uint64_t now = 100 * S;
  Lifetime l = lifetime_new(now, 86400, 14400);
  EXPECT_EQ(l.valid, now + 86400 * S);
  EXPECT_EQ(l.preferred, now + 14400 * S);
  EXPECT_EQ(lifetime_new(now, 0xffffffffu, 0xffffffffu).valid, ND_NEVER);
  // 5.5.3 e 1: above two hours, or above what remains, is taken.
  lifetime_update(l, now, 10000, 500);
  EXPECT_EQ(l.valid, now + 10000 * S);
  EXPECT_EQ(l.preferred, now + 500 * S);
  // e 3: more than two hours remain and a short one comes: two hours.
  lifetime_update(l, now, 60, 0);
  EXPECT_EQ(l.valid, now + 7200 * S);
  EXPECT_EQ(l.preferred, now);  // deprecated at once
  // e 2: two hours or less remain: a shorter valid lifetime is ignored.
  lifetime_update(l, now + 3600 * S, 0, 0);
  EXPECT_EQ(l.valid, now + 7200 * S);
  // ... but a longer one is taken.
  lifetime_update(l, now + 3600 * S, 5000, 4000);
  EXPECT_EQ(l.valid, now + 3600 * S + 5000 * S);
  EXPECT_EQ(l.preferred, now + 3600 * S + 4000 * S);
  // An infinite address cut by a short lifetime: two hours.
  Lifetime inf;
  lifetime_update(inf, now, 30, 30);
  EXPECT_EQ(inf.valid, now + 7200 * S);
  // The preferred lifetime never outlives the valid one.
  Lifetime p = lifetime_new(now, 100, 100);
  lifetime_update(p, now, 50, 0xffffffffu);
  EXPECT_LE(p.preferred, p.valid);
}
