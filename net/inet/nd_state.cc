// Neighbor Discovery's state machines (net/inet/nd_state.h).
#include "net/inet/nd_state.h"

namespace capsule::net {
namespace {

bool same_mac(const uint8_t a[6], const uint8_t b[6]) {
  for (int i = 0; i < 6; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

void set_mac(NudEntry& e, const uint8_t mac[6]) {
  for (int i = 0; i < 6; ++i) e.mac[i] = mac[i];
}

void enter(NudEntry& e, Nud s, uint64_t deadline) {
  e.state = s;
  e.deadline = deadline;
  e.probes = 0;
}

}  // namespace

NudStep nud_output(NudEntry& e, uint64_t now, const NdTimes& t) {
  NudStep r;
  switch (e.state) {
    case Nud::Incomplete:
      // 7.2.2: the first solicitation goes at once; the timer repeats it.
      if (e.probes == 0) {
        e.probes = 1;
        e.deadline = now + t.retrans_ns;
        r.send = NudStep::Multicast;
      }
      return r;
    case Nud::Reachable:
      if (now < e.deadline) break;
      [[fallthrough]];  // ReachableTime passed: STALE (7.3.3), and this packet starts DELAY
    case Nud::Stale: enter(e, Nud::Delay, now + t.delay_ns); break;
    case Nud::Delay:
    case Nud::Probe: break;
  }
  r.usable = true;
  return r;
}

NudStep nud_timer(NudEntry& e, uint64_t now, const NdTimes& t) {
  NudStep r;
  if (!e.deadline || now < e.deadline) return r;
  switch (e.state) {
    case Nud::Incomplete:
      if (e.probes >= t.max_multicast) {
        r.give_up = true;  // 7.3.3: no answer after MAX_MULTICAST_SOLICIT
        e.deadline = 0;
        return r;
      }
      ++e.probes;
      e.deadline = now + t.retrans_ns;
      r.send = NudStep::Multicast;
      return r;
    case Nud::Reachable: enter(e, Nud::Stale, 0); return r;
    case Nud::Delay:
      enter(e, Nud::Probe, now + t.retrans_ns);
      e.probes = 1;
      r.send = NudStep::Unicast;
      return r;
    case Nud::Probe:
      if (e.probes >= t.max_unicast) {
        r.give_up = true;
        e.deadline = 0;
        return r;
      }
      ++e.probes;
      e.deadline = now + t.retrans_ns;
      r.send = NudStep::Unicast;
      return r;
    case Nud::Stale: e.deadline = 0; return r;
  }
  return r;
}

NudStep nud_advert(NudEntry& e, const uint8_t* tlla, bool solicited, bool override_, uint64_t now,
                   const NdTimes& t) {
  NudStep r;
  if (e.state == Nud::Incomplete) {
    // 7.2.5: without a target link-layer address there is nothing to learn.
    if (!tlla) return r;
    set_mac(e, tlla);
    enter(e, solicited ? Nud::Reachable : Nud::Stale, solicited ? now + t.reachable_ns : 0);
    r.flush = r.usable = true;
    return r;
  }
  r.usable = true;
  const bool differs = tlla && !same_mac(tlla, e.mac);
  if (!override_ && differs) {
    // Not an override of a known address: only a hint that ours may be stale.
    if (e.state == Nud::Reachable) enter(e, Nud::Stale, 0);
    return r;
  }
  if (differs) set_mac(e, tlla);
  if (solicited) enter(e, Nud::Reachable, now + t.reachable_ns);
  else if (differs) enter(e, Nud::Stale, 0);
  return r;
}

NudStep nud_lladdr(NudEntry& e, const uint8_t mac[6]) {
  NudStep r;
  r.usable = true;
  if (e.state == Nud::Incomplete) {
    set_mac(e, mac);
    enter(e, Nud::Stale, 0);
    r.flush = true;
    return r;
  }
  if (!same_mac(mac, e.mac)) {
    set_mac(e, mac);
    enter(e, Nud::Stale, 0);
  }
  return r;
}

void nud_confirm(NudEntry& e, uint64_t now, const NdTimes& t) {
  if (e.state != Nud::Incomplete) enter(e, Nud::Reachable, now + t.reachable_ns);
}

bool dad_step(DadEntry& d, uint64_t now, uint8_t transmits, uint64_t retrans_ns) {
  if (d.state != Dad::Tentative || now < d.deadline) return false;
  if (d.sent >= transmits) {
    d.state = Dad::Done;  // RetransTimer after the last one passed unanswered
    d.deadline = 0;
    return false;
  }
  ++d.sent;
  d.deadline = now + retrans_ns;
  return true;
}

void dad_conflict(DadEntry& d) {
  if (d.state == Dad::Tentative) d.state = Dad::Duplicate, d.deadline = 0;
}

uint64_t nd_deadline(uint64_t now, uint32_t seconds) {
  if (seconds == 0xffffffffu) return ND_NEVER;
  return now + uint64_t(seconds) * 1'000'000'000ull;
}

Lifetime lifetime_new(uint64_t now, uint32_t valid_s, uint32_t preferred_s) {
  return Lifetime{nd_deadline(now, valid_s), nd_deadline(now, preferred_s)};
}

void lifetime_update(Lifetime& l, uint64_t now, uint32_t valid_s, uint32_t preferred_s) {
  constexpr uint64_t TWO_HOURS = 7200ull * 1'000'000'000ull;
  l.preferred = nd_deadline(now, preferred_s);
  const uint64_t want = nd_deadline(now, valid_s);
  const uint64_t remaining = l.valid == ND_NEVER ? ND_NEVER : l.valid > now ? l.valid - now : 0;
  if (want == ND_NEVER || valid_s > 7200 || want > l.valid) l.valid = want;
  else if (remaining > TWO_HOURS) l.valid = now + TWO_HOURS;
  // else: two hours or less remain; the RA changes nothing
  if (l.preferred > l.valid) l.preferred = l.valid;
}

}  // namespace capsule::net
