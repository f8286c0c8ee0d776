/* bench/syscall: the cost of a few kernel services, seen from a static
 * Linux program. The same binary runs in Capsule (`./capsule run`) and as
 * /init of a Linux guest (bench/syscall/run.py builds and boots both).
 *
 * Prints machine-readable lines, one per figure, as soon as each is known
 * (so a later hang still leaves the earlier figures):
 *   bench: <name> <value>         e.g. "bench: getpid_ns 123.4"
 *   bench: <name> unsupported <why>
 * and a few facts about the paths taken (timer, vDSO).
 *
 * Options: --tsc-rate=N the TSC rate in kHz, used only when clock_gettime
 *                       (CLOCK_MONOTONIC) does not work, to time with RDTSC
 *          --scale=F    multiply every iteration count by F (e.g. 0.1)
 *          --timer=rdtsc  time with RDTSC even where clock_gettime works
 *                       (to check that both timers agree; needs --tsc-rate)
 *          --clocksource  mount sysfs on /sys and print Linux's current
 *                       clocksource at the start and at the end (the Linux
 *                       guest: its vDSO is fast only on a TSC clocksource)
 *          --poweroff   at the end, drain the console and reboot(RB_POWER_OFF)
 *                       (given as the Linux guest's /init; Capsule runs the
 *                       program as pid 1 too, so pid 1 alone says nothing)
 *
 * Built by run.py with `gcc -static -O2 -pthread`. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../guest_bench.h"


static void unsupported(const char *name, const char *why) {
    printf("bench: %s unsupported %s\n", name, why);
    fflush(stdout);
}

static long scaled(long n, double scale) {
    long r = (long)(n * scale);
    return r < 1 ? 1 : r;
}

/* Whether the vDSO at `base` exports `sym` (looked up in its dynamic string
 * table through PT_DYNAMIC; glibc and musl find it the same way). */
static int vdso_exports(uintptr_t base, const char *sym) {
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
        return 0;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
    uintptr_t load_bias = 0, dyn = 0;
    int have_load = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && !have_load) {
            load_bias = base + ph[i].p_offset - ph[i].p_vaddr;
            have_load = 1;
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = ph[i].p_vaddr;
        }
    }
    if (!have_load || !dyn)
        return 0;
    const char *strtab = NULL;
    size_t strsz = 0;
    for (const Elf64_Dyn *d = (const Elf64_Dyn *)(load_bias + dyn); d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_STRTAB)
            strtab = (const char *)(load_bias + d->d_un.d_ptr);
        else if (d->d_tag == DT_STRSZ)
            strsz = d->d_un.d_val;
    }
    if (!strtab || !strsz)
        return 0;
    size_t len = strlen(sym);
    for (size_t i = 0; i + len < strsz; i++)
        if ((i == 0 || strtab[i - 1] == '\0') && memcmp(strtab + i, sym, len + 1) == 0)
            return 1;
    return 0;
}

/* Prints Linux's current clocksource as fact `name` (sysfs mounted by main). */
static void show_clocksource(const char *name) {
    char buf[64] = "unknown";
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f) {
        if (fgets(buf, sizeof buf, f))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
    fact(name, buf);
}

/* ---------------------------------------------------------------- figures */

static void bench_getpid(long n) {
    for (long i = 0; i < 1000; i++)
        syscall(SYS_getpid);
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        syscall(SYS_getpid);
    double t1 = now_ns();
    figure("getpid_ns", (t1 - t0) / n);
}

/* syscall(1023): Capsule booted with --syscall-probe returns from it at the
 * top of its SYSCALL entry (the bare round trip, returns 1023); Linux and a
 * Capsule without the option take their ENOSYS path. */
static void bench_bare_syscall(long n) {
    long r = syscall(1023);
    fact("syscall_1023", r == 1023 ? "bare" : "enosys");
    for (long i = 0; i < 1000; i++)
        syscall(1023);
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        syscall(1023);
    double t1 = now_ns();
    figure("bare_syscall_ns", (t1 - t0) / n);
}

static void bench_clock_gettime(long n, int works) {
    if (!works) {
        unsupported("clock_gettime_ns", "clock_gettime(CLOCK_MONOTONIC) fails");
        return;
    }
    struct timespec ts;
    for (long i = 0; i < 1000; i++)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    double t1 = now_ns();
    figure("clock_gettime_ns", (t1 - t0) / n);
}

/* --------------------------------------------- the least a call costs
 *
 * Each figure below is the best (least) of 100 chunks of 200 calls, in ns
 * per call: a loaded host only adds to a chunk's time, so the minimum is
 * the path's own cost, steady from run to run where the means above move
 * with the machine's load. BEST evaluates EXPR 200 times per chunk. */
#define BEST_NS(name, EXPR)                                   \
    do {                                                      \
        double best_ = 1e30;                                  \
        for (int chunk_ = 0; chunk_ < 100; chunk_++) {        \
            double t0_ = now_ns();                            \
            for (int call_ = 0; call_ < 200; call_++) {       \
                EXPR;                                         \
            }                                                 \
            double t_ = (now_ns() - t0_) / 200;               \
            if (t_ < best_) best_ = t_;                       \
        }                                                     \
        figure(name, best_);                                  \
    } while (0)

/* The system-call path and the I/O paths servers live in (issue 16), one
 * thread, nothing ever blocks: a 1-byte write and read back on a pipe,
 * pread/pwrite of one byte of an in-memory file (Capsule's ramfs root,
 * Linux's initramfs), epoll_wait with one descriptor ready, FUTEX_WAKE
 * with no waiter, FUTEX_WAIT whose value differs (EAGAIN). */
static void bench_least(void) {
    struct timespec ts;
    volatile uint64_t sink = 0;
    BEST_NS("least_bare_syscall_ns", syscall(1023));
    BEST_NS("least_getpid_ns", syscall(SYS_getpid));
    BEST_NS("least_clock_gettime_ns", clock_gettime(CLOCK_MONOTONIC, &ts));
    BEST_NS("least_rdtsc_ns", sink += rdtsc());
    int p[2];
    char c = 'x';
    if (pipe(p) != 0) {
        unsupported("least_pipe_write_read_ns", "pipe failed");
        return;
    }
    BEST_NS("least_pipe_write_read_ns", (void)(write(p[1], &c, 1) + read(p[0], &c, 1)));
    int fd = open("/bench_least", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || pwrite(fd, "abcd", 4, 0) != 4) {
        unsupported("least_file_pread_ns", "open/pwrite /bench_least failed");
    } else {
        BEST_NS("least_file_pread_ns", (void)pread(fd, &c, 1, 0));
        BEST_NS("least_file_pwrite_ns", (void)pwrite(fd, &c, 1, 0));
        close(fd);
        unlink("/bench_least");
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = p[0]};
    struct epoll_event out[4];
    if (ep < 0 || write(p[1], &c, 1) != 1 || epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) != 0) {
        unsupported("least_epoll_wait_ready_ns", "epoll set-up failed");
    } else {
        BEST_NS("least_epoll_wait_ready_ns", (void)epoll_wait(ep, out, 4, 0));
    }
    static int futex_word;
    BEST_NS("least_futex_wake_none_ns", syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    BEST_NS("least_futex_wait_eagain_ns", syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0));
    (void)sink;
}

#define MIB (1024 * 1024)

/* 0 on success, else the errno of what failed (and its name in *what). */
static int map_touch_unmap(const char **what) {
    char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        *what = "mmap";
        return errno;
    }
    for (size_t off = 0; off < MIB; off += 4096)
        ((volatile char *)p)[off] = 1;
    if (munmap(p, MIB) != 0) {
        *what = "munmap";
        return errno;
    }
    return 0;
}

static void bench_mmap(long n) {
    const char *what = "";
    int err = map_touch_unmap(&what);
    if (err) {
        char why[96];
        snprintf(why, sizeof why, "%s: %s", what, strerror(err));
        unsupported("mmap_touch_munmap_1mib_us", why);
        return;
    }
    for (long i = 0; i < 4; i++)
        map_touch_unmap(&what);
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        if ((err = map_touch_unmap(&what)) != 0) {
            char why[96];
            snprintf(why, sizeof why, "%s failed at iteration %ld: %s", what, i, strerror(err));
            unsupported("mmap_touch_munmap_1mib_us", why);
            return;
        }
    double t1 = now_ns();
    figure("mmap_touch_munmap_1mib_us", (t1 - t0) / n / 1000.0);
}

static void *thread_body(void *arg) { return arg; }

static int create_join(void) {
    pthread_t t;
    int err = pthread_create(&t, NULL, thread_body, NULL);
    if (err)
        return err;
    return pthread_join(t, NULL);
}

static void bench_threads(long n) {
    int err = create_join();
    if (err) {
        char why[96];
        snprintf(why, sizeof why, "pthread_create/join: %s", strerror(err));
        unsupported("thread_create_join_us", why);
        return;
    }
    for (long i = 0; i < 10; i++)
        create_join();
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        if ((err = create_join()) != 0) {
            char why[96];
            snprintf(why, sizeof why, "failed at iteration %ld: %s", i, strerror(err));
            unsupported("thread_create_join_us", why);
            return;
        }
    double t1 = now_ns();
    figure("thread_create_join_us", (t1 - t0) / n / 1000.0);
}

/* Issue 4's scheduler figures from an application: a condvar ping-pong
 * between two threads (ns per hand-off) and the overshoot of a 1 ms sleep. */
static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cond = PTHREAD_COND_INITIALIZER;
static long pp_turn, pp_rounds;

static void *pong_body(void *arg) {
    (void)arg;
    for (long i = 0; i < pp_rounds; ++i) {
        pthread_mutex_lock(&pp_lock);
        while (pp_turn != 1) pthread_cond_wait(&pp_cond, &pp_lock);
        pp_turn = 0;
        pthread_cond_signal(&pp_cond);
        pthread_mutex_unlock(&pp_lock);
    }
    return NULL;
}

static void bench_pingpong(long n) {
    pthread_t t;
    pp_rounds = n;
    pp_turn = 0;
    if (pthread_create(&t, NULL, pong_body, NULL) != 0) {
        unsupported("pingpong_handoff_ns", "pthread_create failed");
        return;
    }
    double t0 = now_ns();
    for (long i = 0; i < n; ++i) {
        pthread_mutex_lock(&pp_lock);
        pp_turn = 1;
        pthread_cond_signal(&pp_cond);
        while (pp_turn != 0) pthread_cond_wait(&pp_cond, &pp_lock);
        pthread_mutex_unlock(&pp_lock);
    }
    double t1 = now_ns();
    pthread_join(t, NULL);
    figure("pingpong_handoff_ns", (t1 - t0) / (2.0 * n));
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_sleep(long n) {
    double over[200];
    if (n > 200) n = 200;
    for (long i = 0; i < n; ++i) {
        struct timespec d = {0, 1000000};
        double t0 = now_ns();
        nanosleep(&d, NULL);
        over[i] = now_ns() - t0 - 1e6;
    }
    qsort(over, (size_t)n, sizeof over[0], cmp_double);
    figure("sleep_1ms_overshoot_us", over[n / 2] / 1000.0);
}

int main(int argc, char **argv) {
    double scale = 1.0;
    int force_rdtsc = 0, clocksource = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--tsc-rate=", 11) == 0)
            tsc_khz = atof(argv[i] + 11);
        else if (strncmp(argv[i], "--scale=", 8) == 0)
            scale = atof(argv[i] + 8);
        else if (strcmp(argv[i], "--timer=rdtsc") == 0)
            force_rdtsc = 1;
        else if (strcmp(argv[i], "--clocksource") == 0)
            clocksource = 1;
        else if (strcmp(argv[i], "--poweroff") == 0)
            poweroff = 1;
        else if (strcmp(argv[i], "--") != 0)
            fprintf(stderr, "syscall_bench: ignoring argument '%s'\n", argv[i]);
    }
    if (!(scale > 0))
        scale = 1.0;

    printf("bench: start pid %d\n", (int)getpid());

    /* Which clock_gettime path glibc takes: the vDSO when the kernel maps
     * one that exports __vdso_clock_gettime, else the syscall. */
    uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    int vdso_clock = vdso && vdso_exports(vdso, "__vdso_clock_gettime");
    fact("at_sysinfo_ehdr", vdso ? "present" : "absent");
    struct timespec ts;
    int clock_works = clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
    fact("clock_gettime_path", !clock_works ? "none" : vdso_clock ? "vdso" : "syscall");

    if (clock_works && !force_rdtsc) {
        fact("timer", "clock_gettime");
    } else if (tsc_khz > 0) {
        use_rdtsc = 1;
        fact("timer", "rdtsc");
    } else {
        fact("timer", "none");
        fprintf(stderr, "syscall_bench: clock_gettime(CLOCK_MONOTONIC) fails (%s) and no "
                        "--tsc-rate=N was given: nothing to time with\n", strerror(errno));
        finish(2);
    }

    if (clocksource) {
        mkdir("/sys", 0755);
        if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0 && errno != EBUSY)
            fprintf(stderr, "syscall_bench: mount sysfs: %s\n", strerror(errno));
        show_clocksource("clocksource_start");
    }

    /* The run up to the thread figure on both timers: they must agree, or
     * the figures mean little (a Linux guest whose clocksource fell back to
     * jiffies). Printed before the thread figure, the likeliest to fail. */
    struct timespec c0, c1;
    int check = clock_works && tsc_khz > 0;
    uint64_t r0 = rdtsc();
    if (check)
        clock_gettime(CLOCK_MONOTONIC, &c0);

    bench_bare_syscall(scaled(200000, scale));
    bench_getpid(scaled(200000, scale));
    bench_least();
    bench_clock_gettime(scaled(200000, scale), clock_works);
    bench_mmap(scaled(500, scale));
    if (check) {
        clock_gettime(CLOCK_MONOTONIC, &c1);
        double tsc_ns = (double)(rdtsc() - r0) * 1e6 / tsc_khz;
        double clock_ns = (double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec);
        printf("bench: clock_over_tsc %.3f\n", clock_ns / tsc_ns);
        fflush(stdout);
    }
    bench_threads(scaled(2000, scale));
    bench_pingpong(scaled(5000, scale));
    bench_sleep(scaled(50, scale));
    if (clocksource)
        show_clocksource("clocksource_end");
    fact("done", "ok");
    finish(0);
    return 0;
}
