/* bench/proc: the cost of processes, seen from a static Linux program. The
 * same binary runs in Capsule (`./capsule run`) and as /init of a Linux
 * guest (bench/proc/run.py builds and boots both, bench/side_by_side.py).
 *
 * Figures (microseconds per operation, medians of batches):
 *   fork_exit_wait_us        fork(); the child _exit(0)s; waitpid
 *   fork_16mib_exit_wait_us  the same from a process with 16 MiB of touched
 *                            anonymous memory (copy-on-write set-up cost)
 *   vfork_exec_wait_us       vfork(); the child execs this program with
 *                            --noop (it exits at once); waitpid
 *   posix_spawn_wait_us      posix_spawn of this program with --noop; waitpid
 *   pipe_roundtrip_us        one byte there and back between two processes
 *                            over two pipes
 *   sh_c_true_us             posix_spawn of /bin/sh -c true; waitpid
 *                            (unsupported when there is no /bin/sh)
 *
 * Options: --tsc-rate=N, --scale=F, --poweroff as bench/syscall's;
 *          --noop: exit 0 at once (the exec target).
 * The program finds itself as argv[0] (Capsule runs it by the path it was
 * found at; Linux runs it as /init). */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../guest_bench.h"

extern char **environ;

static const char *self;

static long scaled(long n, double scale) {
    long r = (long)(n * scale);
    return r < 1 ? 1 : r;
}

static void die(const char *what) {
    fprintf(stderr, "proc_bench: %s: %s\n", what, strerror(errno));
    finish(3);
}

static void reap(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid)
        die("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "proc_bench: child %d ended with status 0x%x\n", (int)pid, st);
        finish(3);
    }
}

static void fork_once(void) {
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        _exit(0);
    reap(pid);
}

static void vfork_exec_once(void) {
    char *argv[] = {(char *)self, "--noop", NULL};
    pid_t pid = vfork();
    if (pid < 0)
        die("vfork");
    if (pid == 0) {
        execve(self, argv, environ);
        _exit(127);
    }
    reap(pid);
}

static void spawn_once(const char *path, char *const argv[]) {
    pid_t pid;
    int e = posix_spawn(&pid, path, NULL, NULL, argv, environ);
    if (e != 0) {
        errno = e;
        die("posix_spawn");
    }
    reap(pid);
}

static void spawn_self_once(void) {
    char *argv[] = {(char *)self, "--noop", NULL};
    spawn_once(self, argv);
}

static void sh_once(void) {
    char *argv[] = {"sh", "-c", "true", NULL};
    spawn_once("/bin/sh", argv);
}

/* Median over `batches` batches of `n` calls of op, in microseconds per call. */
static double measure_us(void (*op)(void), long n, int batches) {
    double best[16];
    if (batches > 16)
        batches = 16;
    op(); /* warm: the first fork pays for page tables, the first exec for the file */
    for (int b = 0; b < batches; b++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            op();
        best[b] = (now_ns() - t0) / 1e3 / (double)n;
    }
    for (int i = 1; i < batches; i++)
        for (int j = i; j > 0 && best[j] < best[j - 1]; j--) {
            double t = best[j];
            best[j] = best[j - 1];
            best[j - 1] = t;
        }
    return best[batches / 2];
}

static double pipe_roundtrip_us(long n) {
    int there[2], back[2];
    if (pipe(there) != 0 || pipe(back) != 0)
        die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    char c = 'x';
    if (pid == 0) {
        /* Only its own ends: with there[1] still open here, read() would
         * never see the parent's close, and the parent's waitpid would
         * wait forever. */
        close(there[1]);
        close(back[0]);
        for (;;) {
            ssize_t r = read(there[0], &c, 1);
            if (r != 1)
                _exit(r == 0 ? 0 : 1);
            if (write(back[1], &c, 1) != 1)
                _exit(1);
        }
    }
    close(there[0]);
    close(back[1]);
    for (int i = 0; i < 10; i++) /* warm */
        if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
            die("pipe warm-up");
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
            die("pipe round trip");
    double us = (now_ns() - t0) / 1e3 / (double)n;
    close(there[1]);
    reap(pid);
    close(back[0]);
    return us;
}

int main(int argc, char **argv) {
    double scale = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--noop") == 0)
            return 0;
        if (strncmp(argv[i], "--tsc-rate=", 11) == 0)
            tsc_khz = atof(argv[i] + 11);
        else if (strncmp(argv[i], "--scale=", 8) == 0)
            scale = atof(argv[i] + 8);
        else if (strcmp(argv[i], "--poweroff") == 0)
            poweroff = 1;
        else if (strcmp(argv[i], "--") != 0)
            fprintf(stderr, "proc_bench: ignoring argument '%s'\n", argv[i]);
    }
    if (!(scale > 0))
        scale = 1.0;
    self = argv[0];
    printf("bench: start pid %d\n", (int)getpid());
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
        fact("timer", "clock_gettime");
    } else if (tsc_khz > 0) {
        use_rdtsc = 1;
        fact("timer", "rdtsc");
    } else {
        fprintf(stderr, "proc_bench: no clock and no --tsc-rate\n");
        finish(2);
    }
    struct stat st;
    if (stat(self, &st) != 0) {
        fprintf(stderr, "proc_bench: cannot find myself at argv[0] '%s': %s\n", self, strerror(errno));
        finish(2);
    }

    figure("fork_exit_wait_us", measure_us(fork_once, scaled(40, scale), 5));

    size_t big = 16u << 20;
    char *mem = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        die("mmap 16 MiB");
    for (size_t off = 0; off < big; off += 4096)
        mem[off] = (char)off;
    figure("fork_16mib_exit_wait_us", measure_us(fork_once, scaled(10, scale), 5));
    munmap(mem, big);

    figure("vfork_exec_wait_us", measure_us(vfork_exec_once, scaled(20, scale), 5));
    figure("posix_spawn_wait_us", measure_us(spawn_self_once, scaled(20, scale), 5));
    figure("pipe_roundtrip_us", pipe_roundtrip_us(scaled(2000, scale)));
    if (access("/bin/sh", X_OK) == 0)
        figure("sh_c_true_us", measure_us(sh_once, scaled(10, scale), 5));
    else
        printf("bench: sh_c_true_us unsupported no /bin/sh\n");
    fact("done", "ok");
    finish(0);
}
