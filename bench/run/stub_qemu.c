/* A stand-in for qemu-system-x86_64 (bench/run/startup.py): it writes the
 * CLOCK_MONOTONIC time at which it started, in nanoseconds, to the file
 * named by $CAPSULE_STARTUP_STAMP and exits as a guest that powered off
 * with status 0 ((0 + 1) << 1 | 1, tools/capsule/capsule_cli/qemu.py). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const char *path = getenv("CAPSULE_STARTUP_STAMP");
    if (path) {
        FILE *f = fopen(path, "w");
        if (!f)
            return 1;
        fprintf(f, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
        fclose(f);
    }
    return 3;
}
