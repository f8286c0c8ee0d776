/* bench/fs: files, pipes and epoll seen from a static Linux program. The same
 * binary runs in Capsule (`./capsule run`) and as /init of a Linux guest
 * (bench/fs/run.py builds and boots both).
 *
 * Prints machine-readable lines, one per figure, as soon as each is known
 * (so a later hang still leaves the earlier figures):
 *   bench: <name> <value>                  e.g. "bench: pipe_mb_s 812.3"
 *   bench: <name> unavailable: <why>       e.g. "... unavailable: ENOSYS"
 * and a few facts (which file system the file figures ran on, the timer).
 *
 * Figures (each loop warmed up first, timed around the whole loop):
 *   files_ops_s        files per second through create (open O_CREAT|O_EXCL,
 *                      close) + stat + unlink, N files in one directory, each
 *                      phase over all N files before the next; also the
 *                      per-file cost of each phase: create_us, stat_us,
 *                      unlink_us
 *   (MB here is MiB: 1048576 bytes)
 *   seq_write_mb_s     a 32 MiB file written in 64 KiB write()s (fresh file:
 *                      the file system allocates as it goes)
 *   seq_read_mb_s      the same file read back in 64 KiB read()s
 *   pipe_mb_s          64 MiB through a pipe, 64 KiB writes by one thread,
 *                      64 KiB reads by another
 *   pipe_rtt_us        a 1-byte ping-pong between two threads over two pipes:
 *                      µs per round trip
 *   epoll_wait_us      1000 pipes registered (EPOLLIN) with one epoll; each
 *                      iteration writes 1 byte to one pipe (round robin),
 *                      epoll_wait()s (it must report exactly that pipe) and
 *                      reads the byte back: µs per iteration
 *
 * Options: --dir=PATH   where the file figures run (default /bench); a tmpfs
 *                       is mounted there first; if mount() fails (Capsule has
 *                       no mount yet: its root is already an in-memory ramfs)
 *                       the directory is used as it is, and the fact says so
 *          --no-mount   use --dir as it is (to run the program on a host)
 *          --tsc-rate=N TSC rate in kHz, used only when clock_gettime
 *                       (CLOCK_MONOTONIC) does not work, to time with RDTSC
 *          --scale=F    multiply every iteration count and size by F
 *          --poweroff   at the end, drain the console and reboot(RB_POWER_OFF)
 *                       (as the Linux guest's /init)
 *
 * Built by run.py with `gcc -static -O2 -pthread`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../guest_bench.h"

static double scale = 1.0;

/* "unavailable: ENOSYS (epoll_create1)": the errno's name, then what failed. */
static void unavailable(const char *name, int err, const char *what) {
    const char *e = strerrorname_np(err);
    printf("bench: %s unavailable: %s (%s)\n", name, e ? e : strerror(err), what);
    fflush(stdout);
}

static long scaled(long n) {
    long r = (long)(n * scale);
    return r < 1 ? 1 : r;
}

/* write()/read() the whole buffer, across short transfers. 0 or an errno. */
static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (w == 0)
            return EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, char *p, size_t n) {
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (r == 0)
            return EIO; /* early end of file */
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* ---------------------------------------------------------------- files */

static const char *dir = "/bench";

static void file_name(char *buf, size_t len, long i) {
    snprintf(buf, len, "%s/files/f%06ld", dir, i);
}

/* One round over n files: create all, stat all, unlink all. Adds each
 * phase's time to t[0..2]. 0 or an errno (what failed in *what). */
static int files_round(long n, double t[3], const char **what) {
    char name[256];
    struct stat st;
    double a = now_ns();
    for (long i = 0; i < n; i++) {
        file_name(name, sizeof name, i);
        int fd = open(name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0) {
            *what = "open O_CREAT";
            return errno;
        }
        close(fd);
    }
    double b = now_ns();
    for (long i = 0; i < n; i++) {
        file_name(name, sizeof name, i);
        if (stat(name, &st) != 0) {
            *what = "stat";
            return errno;
        }
        if (!S_ISREG(st.st_mode) || st.st_size != 0) {
            *what = "stat: not an empty regular file";
            return EINVAL;
        }
    }
    double c = now_ns();
    for (long i = 0; i < n; i++) {
        file_name(name, sizeof name, i);
        if (unlink(name) != 0) {
            *what = "unlink";
            return errno;
        }
    }
    double d = now_ns();
    t[0] += b - a;
    t[1] += c - b;
    t[2] += d - c;
    return 0;
}

static void bench_files(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/files", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        unavailable("files_ops_s", errno, "mkdir");
        return;
    }
    long n = scaled(2000), rounds = 3;
    double warm[3] = {0, 0, 0}, t[3] = {0, 0, 0};
    const char *what = "";
    int err = files_round(n < 200 ? n : 200, warm, &what);
    for (long r = 0; !err && r < rounds; r++)
        err = files_round(n, t, &what);
    if (err) {
        unavailable("files_ops_s", err, what);
        return;
    }
    double files = (double)n * rounds;
    figure("files_ops_s", files / ((t[0] + t[1] + t[2]) / 1e9));
    figure("create_us", t[0] / files / 1000.0);
    figure("stat_us", t[1] / files / 1000.0);
    figure("unlink_us", t[2] / files / 1000.0);
    rmdir(path);
}

/* ---------------------------------------------------------------- sequential I/O */

#define CHUNK (64 * 1024)
static char chunk[CHUNK];

static void bench_seq(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/seq.dat", dir);
    long chunks = scaled(512); /* 32 MiB */
    double mib = (double)chunks * CHUNK / (1024.0 * 1024.0);
    double tw = 0, tr = 0;
    for (size_t i = 0; i < CHUNK; i++)
        chunk[i] = (char)(i * 131 + 7);
    /* Round 0 warms up; rounds 1..3 are timed. Each writes a fresh file. */
    for (int round = 0; round < 4; round++) {
        unlink(path);
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0) {
            unavailable("seq_write_mb_s", errno, "open O_CREAT");
            unavailable("seq_read_mb_s", errno, "open O_CREAT");
            return;
        }
        double a = now_ns();
        for (long i = 0; i < chunks; i++) {
            int err = write_all(fd, chunk, CHUNK);
            if (err) {
                unavailable("seq_write_mb_s", err, "write");
                unavailable("seq_read_mb_s", err, "write");
                close(fd);
                unlink(path);
                return;
            }
        }
        double b = now_ns();
        close(fd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            unavailable("seq_read_mb_s", errno, "open O_RDONLY");
            return;
        }
        static char back[CHUNK];
        double c = now_ns();
        for (long i = 0; i < chunks; i++) {
            int err = read_all(fd, back, CHUNK);
            if (err) {
                unavailable("seq_read_mb_s", err, "read");
                close(fd);
                unlink(path);
                return;
            }
        }
        double d = now_ns();
        /* Every byte came back (checked on the last chunk only: outside
         * the timed loop, cheap, and enough to catch a file of zeroes). */
        if (memcmp(back, chunk, CHUNK) != 0) {
            unavailable("seq_read_mb_s", EIO, "data read back differs");
            close(fd);
            return;
        }
        close(fd);
        if (round > 0) {
            tw += b - a;
            tr += d - c;
        }
    }
    unlink(path);
    figure("seq_write_mb_s", 3 * mib / (tw / 1e9));
    figure("seq_read_mb_s", 3 * mib / (tr / 1e9));
}

/* ---------------------------------------------------------------- pipes */

struct pipe_job {
    int fd;
    long chunks;
    int err;
};

static void *pipe_writer(void *arg) {
    struct pipe_job *j = arg;
    for (long i = 0; i < j->chunks && !j->err; i++)
        j->err = write_all(j->fd, chunk, CHUNK);
    return NULL;
}

/* Reads exactly `chunks` chunks from fd. 0 or an errno. */
static int pipe_drain(int fd, long chunks) {
    static char buf[CHUNK];
    long long left = (long long)chunks * CHUNK;
    while (left > 0) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (r == 0)
            return EIO;
        left -= r;
    }
    return 0;
}

static void bench_pipe_throughput(void) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        unavailable("pipe_mb_s", errno, "pipe2");
        return;
    }
    long chunks = scaled(1024); /* 64 MiB */
    double t = 0;
    for (int round = 0; round < 2; round++) { /* round 0: warm-up, 1/8 size */
        struct pipe_job j = {p[1], round ? chunks : (chunks + 7) / 8, 0};
        pthread_t th;
        double a = now_ns();
        int err = pthread_create(&th, NULL, pipe_writer, &j);
        if (err) {
            unavailable("pipe_mb_s", err, "pthread_create");
            goto out;
        }
        err = pipe_drain(p[0], j.chunks);
        double b = now_ns();
        pthread_join(th, NULL);
        if (err || j.err) {
            unavailable("pipe_mb_s", err ? err : j.err, err ? "read" : "write");
            goto out;
        }
        t = b - a;
    }
    figure("pipe_mb_s", (double)chunks * CHUNK / (1024.0 * 1024.0) / (t / 1e9));
out:
    close(p[0]);
    close(p[1]);
}

struct pong_job {
    int in, out;
    long rounds;
    int err;
};

static void *ponger(void *arg) {
    struct pong_job *j = arg;
    char c;
    for (long i = 0; i < j->rounds; i++) {
        if ((j->err = read_all(j->in, &c, 1)) != 0)
            break;
        if ((j->err = write_all(j->out, &c, 1)) != 0)
            break;
    }
    return NULL;
}

static void bench_pipe_rtt(void) {
    int ping[2], pong[2];
    if (pipe2(ping, O_CLOEXEC) != 0) {
        unavailable("pipe_rtt_us", errno, "pipe2");
        return;
    }
    if (pipe2(pong, O_CLOEXEC) != 0) {
        unavailable("pipe_rtt_us", errno, "pipe2");
        close(ping[0]);
        close(ping[1]);
        return;
    }
    long n = scaled(10000), warm = n / 10 + 1;
    struct pong_job j = {ping[0], pong[1], warm + n, 0};
    pthread_t th;
    int err = pthread_create(&th, NULL, ponger, &j);
    if (err) {
        unavailable("pipe_rtt_us", err, "pthread_create");
        goto out;
    }
    double a = 0;
    char c = 'x';
    for (long i = 0; i < warm + n && !err; i++) {
        if (i == warm)
            a = now_ns();
        err = write_all(ping[1], &c, 1);
        if (!err)
            err = read_all(pong[0], &c, 1);
    }
    double b = now_ns();
    if (err) {
        /* Unblock the ponger before joining it. */
        close(ping[1]);
        ping[1] = -1;
    }
    pthread_join(th, NULL);
    if (err || j.err)
        unavailable("pipe_rtt_us", err ? err : j.err, "ping-pong");
    else
        figure("pipe_rtt_us", (b - a) / n / 1000.0);
out:
    close(ping[0]);
    if (ping[1] >= 0)
        close(ping[1]);
    close(pong[0]);
    close(pong[1]);
}

/* ---------------------------------------------------------------- epoll */

#define NPIPES 1000

static void bench_epoll(void) {
    static int rd[NPIPES], wr[NPIPES];
    int made = 0, ep = -1;
    const char *what = NULL;
    int err = 0;
    /* epoll first: where it is missing, say so without making 1000 pipes. */
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        unavailable("epoll_wait_us", errno, "epoll_create1");
        return;
    }
    for (; made < NPIPES; made++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
            err = errno;
            what = "pipe2 (1000 pipes)";
            goto out;
        }
        rd[made] = p[0];
        wr[made] = p[1];
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)made};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) != 0) {
            err = errno;
            what = "epoll_ctl ADD";
            made++;
            goto out;
        }
    }
    long n = scaled(20000), warm = NPIPES;
    double a = 0;
    for (long i = 0; i < warm + n; i++) {
        if (i == warm)
            a = now_ns();
        int k = (int)(i % NPIPES);
        char c = 'e';
        if ((err = write_all(wr[k], &c, 1)) != 0) {
            what = "write";
            goto out;
        }
        struct epoll_event evs[8];
        int got = epoll_wait(ep, evs, 8, -1);
        if (got < 0) {
            if (errno == EINTR) {
                i--;
                continue;
            }
            err = errno;
            what = "epoll_wait";
            goto out;
        }
        if (got != 1 || evs[0].data.u32 != (uint32_t)k || !(evs[0].events & EPOLLIN)) {
            err = EINVAL;
            what = "epoll_wait reported another set than the one ready pipe";
            goto out;
        }
        if (read(rd[k], &c, 1) != 1) {
            err = errno ? errno : EIO;
            what = "read";
            goto out;
        }
    }
    figure("epoll_wait_us", (now_ns() - a) / n / 1000.0);
out:
    if (err)
        unavailable("epoll_wait_us", err, what);
    for (int i = 0; i < made; i++) {
        close(rd[i]);
        close(wr[i]);
    }
    close(ep);
}

/* ---------------------------------------------------------------- main */

static int mounted;

static void setup_dir(int try_mount) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "fs_bench: mkdir %s: %s\n", dir, strerror(errno));
        fact("fs", "none");
        return;
    }
    if (!try_mount) {
        fact("fs", "as-is (--no-mount)");
        return;
    }
    if (mount("tmpfs", dir, "tmpfs", 0, "size=64m") == 0) {
        mounted = 1;
        fact("fs", "tmpfs");
        return;
    }
    /* Capsule: no mount(2) yet; its root file system is its ramfs. */
    char why[96];
    const char *e = strerrorname_np(errno);
    snprintf(why, sizeof why, "root-fs (mount tmpfs: %s)", e ? e : strerror(errno));
    fact("fs", why);
}

/* 1000 pipes need 2000 descriptors: the soft RLIMIT_NOFILE is 1024 in both
 * guests; raise it to the hard limit. */
static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)rl.rlim_cur);
        fact("nofile", buf);
    }
}

int main(int argc, char **argv) {
    int try_mount = 1;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--tsc-rate=", 11) == 0)
            tsc_khz = atof(argv[i] + 11);
        else if (strncmp(argv[i], "--scale=", 8) == 0)
            scale = atof(argv[i] + 8);
        else if (strncmp(argv[i], "--dir=", 6) == 0)
            dir = argv[i] + 6;
        else if (strcmp(argv[i], "--no-mount") == 0)
            try_mount = 0;
        else if (strcmp(argv[i], "--poweroff") == 0)
            poweroff = 1;
        else if (strcmp(argv[i], "--") != 0)
            fprintf(stderr, "fs_bench: ignoring argument '%s'\n", argv[i]);
    }
    if (!(scale > 0))
        scale = 1.0;

    printf("bench: start pid %d\n", (int)getpid());
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
        fact("timer", "clock_gettime");
    } else if (tsc_khz > 0) {
        use_rdtsc = 1;
        fact("timer", "rdtsc");
    } else {
        fact("timer", "none");
        fprintf(stderr, "fs_bench: clock_gettime(CLOCK_MONOTONIC) fails and no "
                        "--tsc-rate=N was given: nothing to time with\n");
        finish(2);
    }
    setup_dir(try_mount);
    raise_nofile();

    bench_files();
    bench_seq();
    bench_pipe_throughput();
    bench_pipe_rtt();
    bench_epoll();
    if (mounted)
        umount(dir);
    fact("done", "ok");
    finish(0);
    return 0;
}
