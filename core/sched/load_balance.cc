#include "core/sched/load_balance.h"

namespace capsule::sched {
namespace {

bool already_planned(const SchedEntity* e, const Migration* out, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (out[i].entity == e) return true;
  return false;
}

}  // namespace

size_t plan_migrations(uint64_t* load, uint32_t ncpus, SchedEntity* const* candidates,
                       size_t ncandidates, Migration* out, size_t max_out) {
  size_t n = 0;

  // Rule 1: forced moves first, whatever the loads.
  for (size_t i = 0; i < ncandidates && n < max_out; ++i) {
    SchedEntity* e = candidates[i];
    if (e->cpu >= ncpus || e->affinity.has(e->cpu)) continue;
    uint32_t best = ncpus;
    for (uint32_t c = 0; c < ncpus; ++c)
      if (e->affinity.has(c) && (best == ncpus || load[c] < load[best])) best = c;
    if (best == ncpus) continue;  // allows no online CPU: leave it, caller decides
    load[e->cpu] -= e->weight;
    load[best] += e->weight;
    out[n++] = {e, e->cpu, best};
  }

  // Rule 2: greedy improving moves.
  while (n < max_out) {
    SchedEntity* pick = nullptr;
    uint32_t pick_to = 0;
    uint64_t best_gain = 0;
    for (size_t i = 0; i < ncandidates; ++i) {
      SchedEntity* e = candidates[i];
      uint32_t from = e->cpu;
      if (from >= ncpus || already_planned(e, out, n)) continue;
      uint64_t w = e->weight;
      for (uint32_t to = 0; to < ncpus; ++to) {
        if (to == from || !e->affinity.has(to) || load[from] <= load[to]) continue;
        uint64_t diff = load[from] - load[to];
        if (w == 0 || w >= diff) continue;
        // (a^2 + b^2) - ((a-w)^2 + (b+w)^2) = 2w(diff - w); the 2 is dropped.
        uint64_t gain = w * (diff - w);
        if (gain > best_gain) {
          best_gain = gain;
          pick = e;
          pick_to = to;
        }
      }
    }
    if (!pick) break;
    load[pick->cpu] -= pick->weight;
    load[pick_to] += pick->weight;
    out[n++] = {pick, pick->cpu, pick_to};
  }
  return n;
}

}  // namespace capsule::sched
