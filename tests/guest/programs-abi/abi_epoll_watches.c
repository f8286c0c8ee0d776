/* /proc/sys/fs/epoll/max_user_watches (issue 17, docs/limits.md): epoll
 * interests are bounded; epoll_ctl ADD past the bound is ENOSPC, DEL and
 * closing an epoll or a watched file give the room back. The default is
 * proportional to RAM (Linux: 4% of low memory over an interest's cost).
 * Lowering the sysctl and filling up to the default (hundreds of thousands
 * of interests on the host) run in the VM only; on the host the program
 * checks the file and the errno of a few calls. */
/* abi-test: MEM 256M TIMEOUT 300 */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#define PATH "/proc/sys/fs/epoll/max_user_watches"

static int in_capsule(void) {
  struct utsname u;
  return uname(&u) == 0 && strstr(u.release, "capsule") != NULL;
}

static long read_limit(void) {
  char b[64] = {0};
  int fd = open(PATH, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  return n > 0 ? atol(b) : -1;
}

static int write_limit(long v) {
  char b[32];
  int len = snprintf(b, sizeof b, "%ld\n", v);
  int fd = open(PATH, O_WRONLY);
  if (fd < 0) return -1;
  ssize_t n = write(fd, b, (size_t)len);
  close(fd);
  return n == len ? 0 : -1;
}

/* Adds every one of nfd eventfds to every one of nep epolls until refused;
 * returns the count made, *err the errno (0: all made). */
static long fill(int* eps, int nep, int* fds, int nfd, int* err) {
  long made = 0;
  *err = 0;
  for (int e = 0; e < nep; ++e) {
    for (int f = 0; f < nfd; ++f) {
      struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)f};
      if (epoll_ctl(eps[e], EPOLL_CTL_ADD, fds[f], &ev)) {
        *err = errno;
        return made;
      }
      ++made;
    }
  }
  return made;
}

int main(void) {
  int capsule = in_capsule();
  long def = read_limit();
  CHECK(def > 0, "%s = %ld", PATH, def);
  struct sysinfo si;
  sysinfo(&si);
  uint64_t ram = (uint64_t)si.totalram * si.mem_unit;
  /* 4% of RAM over an interest's cost, a cost between 64 and 512 bytes. */
  CHECK((uint64_t)def >= ram / 25 / 512 && (uint64_t)def <= ram / 25 / 64, "default %ld for %lu MiB", def,
        (unsigned long)(ram >> 20));
  /* The usual errnos around the limit's neighbours. */
  int ep = epoll_create1(0), efd = eventfd(0, 0);
  struct epoll_event ev = {.events = EPOLLIN};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0, "add");
  EXPECT_ERR(EEXIST, epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
  CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL) == 0, "del");
  EXPECT_ERR(ENOENT, epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
  close(ep);
  close(efd);
  if (!capsule) return finish("abi_epoll_watches");

  enum { NEP = 256, NFD = 512 };
  struct rlimit nofile = {4096, 4096};
  CHECK(setrlimit(RLIMIT_NOFILE, &nofile) == 0, "RLIMIT_NOFILE 4096");
  static int eps[NEP], fds[NFD];
  for (int i = 0; i < NEP; ++i) eps[i] = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < NFD; ++i) fds[i] = eventfd(0, EFD_CLOEXEC);
  CHECK(eps[NEP - 1] >= 0 && fds[NFD - 1] >= 0, "descriptors");

  /* Lowered: exactly that many, then ENOSPC. */
  CHECK(write_limit(100) == 0 && read_limit() == 100, "write 100: %s", strerror(errno));
  int err;
  long made = fill(eps, 1, fds, NFD, &err);
  CHECK(made == 100 && err == ENOSPC, "lowered: %ld made, then errno %d (%s)", made, err, strerror(err));
  /* MOD still works at the limit; DEL gives one back. */
  ev.events = EPOLLOUT;
  CHECK(epoll_ctl(eps[0], EPOLL_CTL_MOD, fds[0], &ev) == 0, "mod at the limit");
  CHECK(epoll_ctl(eps[0], EPOLL_CTL_DEL, fds[0], NULL) == 0, "del");
  ev.events = EPOLLIN;
  CHECK(epoll_ctl(eps[1], EPOLL_CTL_ADD, fds[0], &ev) == 0, "one more after a DEL: %s", strerror(errno));
  EXPECT_ERR(ENOSPC, epoll_ctl(eps[1], EPOLL_CTL_ADD, fds[1], &ev));
  /* Closing a watched file drops its interests. */
  close(fds[5]);
  CHECK(epoll_ctl(eps[1], EPOLL_CTL_ADD, fds[1], &ev) == 0, "after closing a watched fd: %s", strerror(errno));
  fds[5] = eventfd(0, EFD_CLOEXEC);
  /* Closing the epoll drops all of its interests. */
  close(eps[0]);
  eps[0] = epoll_create1(EPOLL_CLOEXEC);
  made = fill(eps + 2, 1, fds, NFD, &err);
  CHECK(made == 98 && err == ENOSPC, "after closing the epoll: %ld made (errno %d)", made, err);
  /* 0: nothing. */
  CHECK(write_limit(0) == 0, "write 0");
  EXPECT_ERR(ENOSPC, epoll_ctl(eps[3], EPOLL_CTL_ADD, fds[0], &ev));
  EXPECT_ERR(EINVAL, write_limit(-1));
  /* Back to the default; fill up to it: 256 epolls x 512 eventfds is more
   * than the default of a 256 MiB VM. */
  for (int i = 0; i < 4; ++i) {
    close(eps[i]);
    eps[i] = epoll_create1(EPOLL_CLOEXEC);
  }
  CHECK(write_limit(def) == 0 && read_limit() == def, "default restored");
  CHECK((long)NEP * NFD > def, "%d interests would pass the default %ld", NEP * NFD, def);
  made = fill(eps, NEP, fds, NFD, &err);
  CHECK(made == def && err == ENOSPC, "default: %ld made, then errno %d (%s)", made, err, strerror(err));
  printf("abi_epoll_watches: %ld interests (the default for %lu MiB), then ENOSPC\n", made,
         (unsigned long)(ram >> 20));
  for (int i = 0; i < NEP; ++i) close(eps[i]);
  int again = epoll_create1(0);
  CHECK(epoll_ctl(again, EPOLL_CTL_ADD, fds[0], &ev) == 0, "room again once the epolls are closed");
  close(again);
  for (int i = 0; i < NFD; ++i) close(fds[i]);
  return finish("abi_epoll_watches");
}
