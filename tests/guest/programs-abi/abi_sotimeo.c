/* abi-test: TIMEOUT 120 */
/* SO_RCVTIMEO and SO_SNDTIMEO (linux/sys_socket.cc; net/ waits with the
 * deadline; docs/net.md "The adapter"), in the VM and on the host:
 * - get/set as struct timeval: {0, 0} by default and for "none"; a value
 *   set reads back (half-second steps, exact at any HZ); a short optlen is
 *   EINVAL; tv_usec outside [0, 1e6) is EDOM; a negative tv_sec reads
 *   back {0, 0} and makes a receive on an empty socket EAGAIN at once;
 *   SO_RCVTIMEO_NEW (66) is the same option; a short getsockopt buffer
 *   gets that many bytes;
 * - a receive that times out is EAGAIN (TCP, UDP, AF_UNIX stream and
 *   datagram, netlink), accept too, and it waited at least the timeout (a lower
 *   bound only: nothing here depends on the machine being fast);
 * - a send that cannot finish returns what it queued, then EAGAIN (TCP
 *   over loopback and AF_UNIX, the peer not reading);
 * - a signal with SA_RESTART during a timed receive is EINTR (signal(7):
 *   sockets with a timeout are not restarted). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "check.h"

#ifndef SO_RCVTIMEO_NEW
#define SO_RCVTIMEO_NEW 66
#endif

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_tv(int fd, int opt, long sec, long usec) {
  struct timeval tv = {sec, usec};
  EXPECT_OK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv));
}

static struct timeval get_tv(int fd, int opt) {
  struct timeval tv = {-7, -7};
  socklen_t len = sizeof tv;
  int r = getsockopt(fd, SOL_SOCKET, opt, &tv, &len);
  CHECK(r == 0 && len == sizeof tv, "getsockopt(%d) = %d len %u", opt, r, (unsigned)len);
  return tv;
}

/* A receive on fd must fail with EAGAIN after at least min_ms. */
static void expect_timeout(int fd, int min_ms, const char* what) {
  char b[16];
  int64_t t0 = now_ms();
  errno = 0;
  ssize_t r = recv(fd, b, sizeof b, 0);
  int e = errno;
  int64_t waited = now_ms() - t0;
  CHECK(r == -1 && e == EAGAIN, "%s: recv = %zd errno %d (%s), want EAGAIN", what, r, e, strerror(e));
  CHECK(waited >= min_ms, "%s: returned after %lld ms, before the %d ms timeout", what, (long long)waited, min_ms);
}

static void tcp_pair(int* l, int* c, int* s) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  *l = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_OK(bind(*l, (struct sockaddr*)&a, sizeof a));
  EXPECT_OK(listen(*l, 4));
  EXPECT_OK(getsockname(*l, (struct sockaddr*)&a, &alen));
  *c = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_OK(connect(*c, (struct sockaddr*)&a, sizeof a));
  *s = EXPECT_OK(accept(*l, NULL, NULL));
}

/* Writes 64 KiB pieces until a write fails; that failure must be EAGAIN. */
static void fill_until_timeout(int fd, const char* what) {
  static char buf[65536];
  size_t total = 0;
  int i, e = 0;
  ssize_t r = 0;
  for (i = 0; i < 2000; ++i) {
    errno = 0;
    r = write(fd, buf, sizeof buf);
    e = errno;
    if (r < 0) break;
    total += (size_t)r;
  }
  CHECK(r == -1 && e == EAGAIN, "%s: after %zu bytes the write gave %zd errno %d (%s), want EAGAIN", what, total, r,
        e, strerror(e));
  CHECK(total > 0, "%s: nothing was queued before the timeout", what);
}

static void on_alarm(int sig) { (void)sig; }

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  int u = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, 0));
  struct timeval tv = get_tv(u, SO_RCVTIMEO);
  CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "default SO_RCVTIMEO {%ld, %ld}", (long)tv.tv_sec, (long)tv.tv_usec);
  tv = get_tv(u, SO_SNDTIMEO);
  CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "default SO_SNDTIMEO {%ld, %ld}", (long)tv.tv_sec, (long)tv.tv_usec);
  set_tv(u, SO_RCVTIMEO, 2, 500000);
  tv = get_tv(u, SO_RCVTIMEO);
  CHECK(tv.tv_sec == 2 && tv.tv_usec == 500000, "SO_RCVTIMEO {%ld, %ld}, set {2, 500000}", (long)tv.tv_sec,
        (long)tv.tv_usec);
  tv = get_tv(u, SO_SNDTIMEO);
  CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "SO_SNDTIMEO changed with SO_RCVTIMEO: {%ld, %ld}", (long)tv.tv_sec,
        (long)tv.tv_usec);
  struct {
    long long sec, usec;
  } nv = {1, 0};
  EXPECT_OK(setsockopt(u, SOL_SOCKET, SO_RCVTIMEO_NEW, &nv, sizeof nv));
  tv = get_tv(u, SO_RCVTIMEO);
  CHECK(tv.tv_sec == 1 && tv.tv_usec == 0, "after SO_RCVTIMEO_NEW {1, 0}: {%ld, %ld}", (long)tv.tv_sec,
        (long)tv.tv_usec);
  long long half[2] = {-1, -1};
  socklen_t hl = 8;
  EXPECT_OK(getsockopt(u, SOL_SOCKET, SO_RCVTIMEO, half, &hl));
  CHECK(hl == 8 && half[0] == 1 && half[1] == -1, "an 8-byte buffer: len %u, {%lld, %lld}", (unsigned)hl, half[0],
        half[1]);
  set_tv(u, SO_RCVTIMEO, 0, 0);
  tv = get_tv(u, SO_RCVTIMEO);
  CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "{0, 0} reads {%ld, %ld}", (long)tv.tv_sec, (long)tv.tv_usec);
  /* Bad input. */
  struct timeval bad = {1, 1000000};
  EXPECT_ERR(EDOM, setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad));
  bad.tv_usec = -1;
  EXPECT_ERR(EDOM, setsockopt(u, SOL_SOCKET, SO_SNDTIMEO, &bad, sizeof bad));
  bad.tv_usec = 0;
  EXPECT_ERR(EINVAL, setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &bad, 8));
  EXPECT_ERR(EFAULT, setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, BAD_PTR, sizeof bad));
  /* A negative time: {0, 0} to read, EAGAIN at once. */
  set_tv(u, SO_RCVTIMEO, -5, 0);
  tv = get_tv(u, SO_RCVTIMEO);
  CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "a negative time reads {%ld, %ld}", (long)tv.tv_sec, (long)tv.tv_usec);
  struct sockaddr_in ua = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  EXPECT_OK(bind(u, (struct sockaddr*)&ua, sizeof ua));
  expect_timeout(u, 0, "udp, negative timeout");
  set_tv(u, SO_RCVTIMEO, 0, 100000);
  expect_timeout(u, 90, "udp");
  close(u);

  /* TCP: receive and accept. */
  int l, c, s;
  tcp_pair(&l, &c, &s);
  set_tv(s, SO_RCVTIMEO, 0, 100000);
  expect_timeout(s, 90, "tcp recv");
  CHECK(write(c, "hello", 5) == 5, "write");
  char b[16];
  ssize_t r = recv(s, b, sizeof b, 0);
  CHECK(r == 5 && memcmp(b, "hello", 5) == 0, "tcp recv after the timeout: %zd", r);
  set_tv(l, SO_RCVTIMEO, 0, 100000);
  int64_t t0 = now_ms();
  EXPECT_ERR(EAGAIN, accept(l, NULL, NULL));
  CHECK(now_ms() - t0 >= 90, "accept timed out after %lld ms", (long long)(now_ms() - t0));
  /* A timed receive and SA_RESTART: EINTR. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  set_tv(s, SO_RCVTIMEO, 20, 0);
  struct itimerval it = {{0, 0}, {0, 100000}};
  setitimer(ITIMER_REAL, &it, NULL);
  EXPECT_ERR(EINTR, recv(s, b, sizeof b, 0));
  /* TCP send: the peer does not read. */
  set_tv(c, SO_SNDTIMEO, 0, 100000);
  fill_until_timeout(c, "tcp send");
  close(s);
  close(c);
  close(l);

  /* AF_UNIX. */
  int sp[2];
  EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
  set_tv(sp[0], SO_RCVTIMEO, 0, 100000);
  expect_timeout(sp[0], 90, "unix stream recv");
  set_tv(sp[1], SO_SNDTIMEO, 0, 100000);
  fill_until_timeout(sp[1], "unix stream send");
  close(sp[0]);
  close(sp[1]);
  EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp));
  set_tv(sp[0], SO_RCVTIMEO, 0, 100000);
  expect_timeout(sp[0], 90, "unix dgram recv");
  close(sp[0]);
  close(sp[1]);

  /* AF_NETLINK (NETLINK_ROUTE = 0): nothing asked, nothing to read. */
  int nl = EXPECT_OK(socket(AF_NETLINK, SOCK_RAW, 0));
  set_tv(nl, SO_RCVTIMEO, 0, 100000);
  expect_timeout(nl, 90, "netlink recv");
  close(nl);
  return finish("abi_sotimeo");
}
