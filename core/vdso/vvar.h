/* The vvar page: time data the kernel publishes to the vDSO
 * (linux/vdso/vdso.c), mapped read-only one page below the vDSO's text
 * (core/vdso/vdso.cc, docs/vdso.md). C and C++: the vDSO is C.
 *
 * Readers follow the sequence counter: an odd value means an update is in
 * progress; a value that changed across the read means retry. */
#ifndef CAPSULE_CORE_VDSO_VVAR_H
#define CAPSULE_CORE_VDSO_VVAR_H

#include <stdint.h>

#define CAPSULE_VVAR_VERSION 1u

/* flags */
#define CAPSULE_VVAR_TSC_OK 1u  /* the TSC fields are valid: clocks from rdtsc */
#define CAPSULE_VVAR_RDTSCP 2u  /* IA32_TSC_AUX holds the CPU index: getcpu via rdtscp */
#define CAPSULE_VVAR_RDPID 4u   /* ... and RDPID reads it without the TSC */

struct capsule_vvar {
  uint32_t seq;                /* sequence counter (seqlock) */
  uint32_t version;            /* CAPSULE_VVAR_VERSION */
  uint32_t flags;
  uint32_t pad;
  uint64_t boot_tsc;           /* TSC at uptime 0 */
  uint64_t mult;               /* ns per tick, 32.32 fixed point: ns = ticks * mult >> 32 */
  int64_t realtime_offset_ns;  /* CLOCK_REALTIME = uptime + offset */
};

#endif
