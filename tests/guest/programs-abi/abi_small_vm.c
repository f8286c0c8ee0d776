/* A static program in the smallest VM (issue 16): the kernel, this
 * program's image and what it does at start-up fit in 4 MiB of guest
 * memory. The checks are what any small program does and hold on the host
 * as well: its own file read and mapped (in the VM the initrd's pages,
 * mapped where they lie), a private mapping's write that leaves the file
 * alone, anonymous memory, the heap, a pipe, and a fork.
 * abi-test: CPUS 1 MEM 4M TIMEOUT 120 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>

#include "check.h"

int main(void) {
  struct sysinfo si;
  CHECK(sysinfo(&si) == 0, "sysinfo: %s", strerror(errno));
  CHECK(si.totalram > 0 && si.freeram <= si.totalram, "totalram %lu freeram %lu", si.totalram, si.freeram);

  /* This program's own file: read, then mapped privately and compared. */
  int fd = (int)EXPECT_OK(open("/proc/self/exe", O_RDONLY));
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size > 2 * 4096, "size %ld", (long)st.st_size);
  size_t n = 2 * 4096;
  char* buf = malloc(n);
  CHECK(buf && pread(fd, buf, n, 0) == (ssize_t)n, "pread");
  CHECK(buf && memcmp(buf, "\177ELF", 4) == 0, "not an ELF file");
  char* map = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(map != MAP_FAILED, "mmap: %s", strerror(errno));
  if (map != MAP_FAILED && buf) {
    CHECK(memcmp(map, buf, n) == 0, "the mapping differs from read()");
    map[4096 + 17] ^= 0x5a;  /* a private copy of that page */
    char again[32];
    CHECK(pread(fd, again, sizeof again, 4096 + 1) == (ssize_t)sizeof again, "pread again");
    CHECK(memcmp(again, buf + 4096 + 1, sizeof again) == 0, "a private write reached the file");
    CHECK(map[4096 + 17] == (char)(buf[4096 + 17] ^ 0x5a), "the private write is lost");
    CHECK(memcmp(map, buf, 4096) == 0, "the untouched page changed");
    munmap(map, n);
  }
  close(fd);
  free(buf);

  /* 256 KiB of anonymous memory, every page touched. */
  size_t an = 256 * 1024;
  unsigned char* a = mmap(NULL, an, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(a != MAP_FAILED, "anonymous mmap: %s", strerror(errno));
  if (a != MAP_FAILED) {
    unsigned sum = 0;
    for (size_t i = 0; i < an; i += 4096) a[i] = (unsigned char)(i >> 12);
    for (size_t i = 0; i < an; i += 4096) sum += a[i];
    CHECK(sum == 63 * 64 / 2, "sum %u", sum);
    munmap(a, an);
  }
  /* The heap: 64 KiB through malloc. */
  char* h = malloc(64 * 1024);
  CHECK(h != NULL, "malloc");
  if (h) memset(h, 1, 64 * 1024);
  free(h);

  /* A pipe, and a child that writes into it. */
  int p[2];
  CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
  pid_t pid = fork();
  CHECK(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    const char msg[] = "from the child";
    _exit(write(p[1], msg, sizeof msg) == (ssize_t)sizeof msg ? 0 : 1);
  }
  if (pid > 0) {
    char got[32] = {0};
    CHECK(read(p[0], got, sizeof got) == 15 && strcmp(got, "from the child") == 0, "got '%s'", got);
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
  }
  return finish("abi_small_vm");
}
