#pragma once
// Load balancing as a pure function: given each CPU's load and the waiting
// entities that could move, decide which to move where. It reads entities
// (cpu, weight, affinity) but changes nothing; the caller locks the two run
// queues of each migration and carries it out with
//   src.dequeue(e); src.detach(e); e.cpu = to; dst.enqueue(e, Migrated).
//
// Rules:
//   1. An entity whose affinity excludes its CPU (after an affinity change)
//      must move: to the least loaded CPU it allows.
//   2. Otherwise move an entity from a busier to a less busy CPU only if it
//      strictly shrinks their difference (weight < difference). Among such
//      moves take the one that reduces the sum of squared loads most, and
//      repeat. Every step lowers that sum, so the plan ends, and there is no
//      ping-pong: two equal entities on two CPUs never swap.
//   3. An entity never goes to a CPU outside its affinity; a pinned entity
//      (one CPU) therefore never moves.
#include <cstddef>
#include <cstdint>

#include "core/sched/entity.h"

namespace capsule::sched {

struct Migration {
  SchedEntity* entity;
  uint32_t from;
  uint32_t to;
};

// load[cpu] for cpu in [0, ncpus): the CPU's total load (policy.load(),
// including entities that cannot move). It is updated in place to the load
// after the planned migrations. candidates: waiting entities of all CPUs,
// each CPU's in its policy's preference order (migration_candidates());
// entity->cpu names its CPU. Returns the number of migrations written to out.
size_t plan_migrations(uint64_t* load, uint32_t ncpus, SchedEntity* const* candidates,
                       size_t ncandidates, Migration* out, size_t max_out);

}  // namespace capsule::sched
