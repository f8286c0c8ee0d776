/* What the benchmark programs that run as the whole guest share
 * (bench/side_by_side.py runs them in Capsule and as Linux's /init): the
 * timer, the `bench: <key> <value>` output lines, and the end of the run.
 * Each program sets tsc_khz/use_rdtsc/poweroff from its arguments. */
#ifndef CAPSULE_GUEST_BENCH_H
#define CAPSULE_GUEST_BENCH_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/reboot.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static double tsc_khz;  /* from --tsc-rate */
static int use_rdtsc;   /* clock_gettime does not work: time with RDTSC */
static int poweroff;    /* --poweroff: power off at the end (Linux's /init) */

static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Nanoseconds on the benchmark's timer (its origin is arbitrary). */
static double now_ns(void) {
    if (use_rdtsc)
        return (double)rdtsc() * 1e6 / tsc_khz;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void finish(int status) {
    fflush(stdout);
    if (poweroff) {
        tcdrain(1); /* let the UART send everything before the power goes */
        sync();
        reboot(RB_POWER_OFF);
        /* Power-off failed: returning from init panics the kernel, which
         * with panic=-1 reboots at once; QEMU's -no-reboot then exits. */
    }
    exit(status);
}

static void fact(const char *name, const char *value) {
    printf("bench: %s %s\n", name, value);
    fflush(stdout);
}

static void figure(const char *name, double value) {
    printf("bench: %s %.2f\n", name, value);
    fflush(stdout);
}

#endif
