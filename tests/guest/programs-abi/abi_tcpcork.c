/* abi-test: TIMEOUT 120 */
/* TCP_CORK (net/inet/tcp.cc; docs/net.md "TCP"), as nginx uses it with
 * sendfile (tcp_nopush): over loopback, in the VM and on the host.
 * - the option reads back 0/1 (any non-zero value sets it), on a listener
 *   too, and an accepted connection inherits the listener's;
 * - a short optlen is EINVAL; SOL_TCP on a UDP socket is ENOPROTOOPT to
 *   set and EOPNOTSUPP to get, as Linux;
 * - a partial segment written while corked does not reach the peer before
 *   tcp(7)'s 200 ms ceiling (checked against CLOCK_MONOTONIC: if it came,
 *   at least 150 ms passed), and does come after it;
 * - pulling the cork sends what it held; 100,000 bytes written corked in
 *   pieces arrive whole and in order once the cork is pulled.
 * No check depends on how fast the machine is: waits are bounded (5 s). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "check.h"

#ifndef TCP_CORK
#define TCP_CORK 3
#endif

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int get_cork(int fd) {
  int v = -1;
  socklen_t len = sizeof v;
  if (getsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, &len) != 0) return -2;
  return len == sizeof v ? v : -3;
}

static void set_cork(int fd, int v) { EXPECT_OK(setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v)); }

/* Reads exactly n bytes (each poll at most 5 s); how many came. */
static size_t read_all(int fd, char* buf, size_t n) {
  size_t got = 0;
  for (int i = 0; i < 10000 && got < n; ++i) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) break;
    ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  return got;
}

int main(void) {
  int l = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  CHECK(get_cork(l) == 0, "a new socket's TCP_CORK is %d", get_cork(l));
  set_cork(l, 5);
  CHECK(get_cork(l) == 1, "TCP_CORK set to 5 reads %d, want 1", get_cork(l));
  short two = 1;
  EXPECT_ERR(EINVAL, setsockopt(l, IPPROTO_TCP, TCP_CORK, &two, sizeof two));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  EXPECT_OK(bind(l, (struct sockaddr*)&a, sizeof a));
  EXPECT_OK(listen(l, 4));
  EXPECT_OK(getsockname(l, (struct sockaddr*)&a, &alen));

  int c = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_OK(connect(c, (struct sockaddr*)&a, sizeof a));
  int s = EXPECT_OK(accept(l, NULL, NULL));
  CHECK(get_cork(s) == 1, "the accepted connection's TCP_CORK is %d, the listener's 1", get_cork(s));
  CHECK(get_cork(c) == 0, "the client's TCP_CORK is %d", get_cork(c));

  /* UDP has no SOL_TCP. */
  int u = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, 0));
  int one = 1;
  socklen_t len = sizeof one;
  EXPECT_ERR(ENOPROTOOPT, setsockopt(u, IPPROTO_TCP, TCP_CORK, &one, sizeof one));
  EXPECT_ERR(EOPNOTSUPP, getsockopt(u, IPPROTO_TCP, TCP_CORK, &one, &len));
  close(u);

  /* A corked partial segment waits for the ceiling. */
  char buf[200000];
  set_cork(c, 1);
  int64_t t0 = now_ms();
  CHECK(write(c, "0123456789", 10) == 10, "write");
  struct pollfd p = {s, POLLIN, 0};
  int early = poll(&p, 1, 50);
  int64_t waited = now_ms() - t0;
  CHECK(early == 0 || waited >= 150, "corked data arrived after %lld ms, before the 200 ms ceiling",
        (long long)waited);
  size_t got = read_all(s, buf, 10);
  CHECK(got == 10 && memcmp(buf, "0123456789", 10) == 0, "corked data after the ceiling: %zu bytes", got);

  /* Pulling the cork sends it. */
  CHECK(write(c, "abcdef", 6) == 6, "write");
  set_cork(c, 0);
  CHECK(get_cork(c) == 0, "after pulling, TCP_CORK reads %d", get_cork(c));
  got = read_all(s, buf, 6);
  CHECK(got == 6 && memcmp(buf, "abcdef", 6) == 0, "after the cork was pulled: %zu bytes", got);

  /* Many corked writes, then the cork pulled: whole and in order. */
  set_cork(c, 1);
  static char out[100000];
  for (size_t i = 0; i < sizeof out; ++i) out[i] = (char)(i * 7 + i / 251);
  size_t sent = 0;
  for (int i = 0; i < 1000 && sent < sizeof out; ++i) {
    size_t n = sizeof out - sent < 777 ? sizeof out - sent : 777;
    ssize_t w = write(c, out + sent, n);
    if (w <= 0) break;
    sent += (size_t)w;
  }
  CHECK(sent == sizeof out, "wrote %zu of %zu bytes corked", sent, sizeof out);
  set_cork(c, 0);
  got = read_all(s, buf, sizeof out);
  CHECK(got == sizeof out && memcmp(buf, out, sizeof out) == 0, "%zu of %zu bytes came back intact", got,
        sizeof out);

  /* The server side (inherited cork) answers once it is pulled. */
  CHECK(write(s, "pong", 4) == 4, "write");
  set_cork(s, 0);
  got = read_all(c, buf, 4);
  CHECK(got == 4 && memcmp(buf, "pong", 4) == 0, "the server's corked reply: %zu bytes", got);
  close(s);
  close(c);
  close(l);
  return finish("abi_tcpcork");
}
