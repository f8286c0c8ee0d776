#pragma once
// The state machines of Neighbor Discovery that need no device: neighbor
// unreachability detection (RFC 4861 7.3), duplicate address detection
// (RFC 4862 5.4) and the lifetimes of addresses, routers and DNS servers
// (RFC 4862 5.5.3-5.5.4, RFC 4861 6.3.4, RFC 8106 5.1). Pure: the time
// is an argument, what to send is a result; nd.cc runs them over its
// cache and its timer, the host unit tests (unit.NdState.*) step them.
#include <cstddef>
#include <cstdint>

namespace capsule::net {

inline constexpr uint64_t ND_NEVER = ~uint64_t(0);  // an infinite lifetime's end

// RFC 4861 10's constants, the RA's ReachableTime and RetransTimer when it
// gives them (6.3.4).
struct NdTimes {
  uint64_t reachable_ns = 30'000'000'000;  // REACHABLE_TIME
  uint64_t retrans_ns = 1'000'000'000;     // RETRANS_TIMER
  uint64_t delay_ns = 5'000'000'000;       // DELAY_FIRST_PROBE_TIME
  uint8_t max_multicast = 3;               // MAX_MULTICAST_SOLICIT
  uint8_t max_unicast = 3;                 // MAX_UNICAST_SOLICIT
};

// A neighbor's reachability (RFC 4861 7.3.2).
enum class Nud : uint8_t { Incomplete, Reachable, Stale, Delay, Probe };

struct NudEntry {
  Nud state = Nud::Incomplete;
  uint8_t probes = 0;     // solicitations sent in INCOMPLETE or PROBE
  uint8_t mac[6] = {};    // valid unless INCOMPLETE
  uint64_t deadline = 0;  // the state's timer (0: none)
};

// What a step asks of the caller.
struct NudStep {
  enum Send : uint8_t { None, Multicast, Unicast } send = None;  // a Neighbor Solicitation
  bool usable = false;  // the link-layer address may be used now
  bool flush = false;   // it just became known: send the packets held for it
  bool give_up = false; // unreachable: forget the entry, drop what it held
};

// A packet is to go to the neighbor (7.3.3): INCOMPLETE solicits once
// (then the timer repeats), STALE goes to DELAY; any state but INCOMPLETE
// may use the address.
NudStep nud_output(NudEntry& e, uint64_t now, const NdTimes& t);
// The entry's timer: INCOMPLETE and PROBE retransmit, up to their limits;
// REACHABLE ages to STALE; DELAY starts PROBE with a unicast solicitation.
NudStep nud_timer(NudEntry& e, uint64_t now, const NdTimes& t);
// A Neighbor Advertisement for it (7.2.5); tlla may be null (no option).
NudStep nud_advert(NudEntry& e, const uint8_t* tlla, bool solicited, bool override_, uint64_t now,
                   const NdTimes& t);
// Its link-layer address from an NS, RS or RA's source option (7.2.3,
// 6.3.4): a new or different address makes the entry STALE.
NudStep nud_lladdr(NudEntry& e, const uint8_t mac[6]);
// Forward progress seen by an upper layer (7.3.1: new data acknowledged).
void nud_confirm(NudEntry& e, uint64_t now, const NdTimes& t);

// Duplicate address detection (RFC 4862 5.4): an address is tentative
// until `transmits` solicitations for it, RetransTimer apart, have gone
// unanswered; an NA for it, or another node's DAD solicitation (from ::),
// makes it a duplicate.
enum class Dad : uint8_t { Tentative, Done, Duplicate };
struct DadEntry {
  Dad state = Dad::Tentative;
  uint8_t sent = 0;
  uint64_t deadline = 0;  // when to send the next one or finish (0: send now)
};
// The next step at `now`: true when a solicitation is to be sent.
bool dad_step(DadEntry& d, uint64_t now, uint8_t transmits, uint64_t retrans_ns);
void dad_conflict(DadEntry& d);

// An autoconfigured address's lifetimes as absolute times (RFC 4862
// 5.5.3): preferred until `preferred`, valid (deprecated between) until
// `valid`, then removed. ND_NEVER for 0xffffffff (infinity).
struct Lifetime {
  uint64_t valid = ND_NEVER, preferred = ND_NEVER;
};
uint64_t nd_deadline(uint64_t now, uint32_t seconds);
// A new address from a prefix option.
Lifetime lifetime_new(uint64_t now, uint32_t valid_s, uint32_t preferred_s);
// An RA for the prefix of an address we have (5.5.3 e): the preferred
// lifetime is taken as it comes; the valid one too when it is above two
// hours or past the remaining one, otherwise the remaining lifetime is
// kept if it is two hours or less, else cut to two hours (a forged RA
// cannot make the address expire at once).
void lifetime_update(Lifetime& l, uint64_t now, uint32_t valid_s, uint32_t preferred_s);

}  // namespace capsule::net
