/* TCP over the loopback interface (net/inet/tcp.cc, docs/net.md "TCP"):
 * connect/listen/accept and the names, a 4 MiB transfer with a checksum
 * between threads, 500 connections opened and closed, non-blocking
 * connect with epoll, shutdown and EOF, POLLRDHUP, EPIPE/SIGPIPE,
 * ECONNRESET (SO_LINGER 0, unread data), ECONNREFUSED, options, and what
 * bad input gets. Passes on Linux too (tests/guest/net.cmake runs it there
 * as well). One "FAIL ..." line per failed check, "PASS inet_tcp" at the
 * end. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../include/guest_check.h"

static void* volatile g_bad = (void*)16; /* unmapped */
static volatile int g_sigpipes;
static void on_sigpipe(int sig) { (void)sig, ++g_sigpipes; }

static struct sockaddr_in lo_addr(uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static uint16_t port_of(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  if (getsockname(fd, (struct sockaddr*)&a, &len) != 0) return 0;
  return ntohs(a.sin_port);
}

/* A listener on 127.0.0.1 and an ephemeral port. */
static int listener(int backlog) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0, "tcp socket");
  struct sockaddr_in a = lo_addr(0);
  CHECK(bind(fd, (struct sockaddr*)&a, sizeof a) == 0, "bind");
  CHECK(listen(fd, backlog) == 0, "listen");
  return fd;
}

static int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = lo_addr(port);
  int r = connect(fd, (struct sockaddr*)&a, sizeof a);
  CHECK(r == 0, "connect to %u", port);
  return fd;
}

static void test_basics(void) {
  int l = listener(8);
  uint16_t port = port_of(l);
  int v = 0;
  socklen_t vl = sizeof v;
  CHECK(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) == 0 && v == 1, "SO_ACCEPTCONN");
  CHECK(getsockopt(l, SOL_SOCKET, SO_PROTOCOL, &v, &vl) == 0 && v == IPPROTO_TCP, "SO_PROTOCOL");
  fcntl(l, F_SETFL, O_NONBLOCK);
  EXPECT_ERR(EAGAIN, accept(l, NULL, NULL));
  fcntl(l, F_SETFL, 0);
  int c = connect_to(port);
  struct sockaddr_in from, me, peer;
  socklen_t fl = sizeof from, ml = sizeof me, pl = sizeof peer;
  int s = accept(l, (struct sockaddr*)&from, &fl);
  CHECK(s >= 0, "accept");
  CHECK(getsockname(c, (struct sockaddr*)&me, &ml) == 0, "getsockname");
  CHECK(fl == sizeof from && from.sin_port == me.sin_port && from.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
        "accept's address is the client's: %u vs %u", ntohs(from.sin_port), ntohs(me.sin_port));
  CHECK(getpeername(c, (struct sockaddr*)&peer, &pl) == 0 && peer.sin_port == htons(port), "client's peer");
  CHECK(port_of(s) == port, "the accepted socket's name is the listener's port");
  CHECK(getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) == 0 && v == 0, "accepted: not listening");

  char buf[64];
  CHECK(write(c, "hello", 5) == 5, "write");
  CHECK(recv(s, buf, 2, MSG_PEEK) == 2 && memcmp(buf, "he", 2) == 0, "peek");
  CHECK(recv(s, buf, 5, MSG_WAITALL) == 5 && memcmp(buf, "hello", 5) == 0, "read");
  EXPECT_ERR(EAGAIN, recv(s, buf, sizeof buf, MSG_DONTWAIT));
  CHECK(send(s, "abc", 3, 0) == 3 && send(s, "def", 3, 0) == 3, "two sends");
  CHECK(recv(c, buf, 6, MSG_WAITALL) == 6 && memcmp(buf, "abcdef", 6) == 0, "a stream has no boundaries");
  CHECK(send(c, "xyz", 3, 0) == 3, "send");
  struct pollfd p = {s, POLLIN, 0};
  CHECK(poll(&p, 1, -1) == 1 && (p.revents & POLLIN), "POLLIN");
  int n = -1;
  CHECK(ioctl(s, FIONREAD, &n) == 0 && n == 3, "FIONREAD %d", n);
  CHECK(read(s, buf, sizeof buf) == 3, "read 3");

  v = 1;
  CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) == 0, "TCP_NODELAY");
  v = 0;
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v == 1, "TCP_NODELAY reads back");
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, &vl) == 0 && v > 500, "TCP_MAXSEG %d", v);
  v = 1;
  CHECK(setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) == 0, "SO_KEEPALIVE");
  v = 30;
  CHECK(setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v) == 0, "TCP_KEEPIDLE");
  v = 0;
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, &vl) == 0 && v == 30, "TCP_KEEPIDLE reads back");
  v = 0;
  EXPECT_ERR(EINVAL, setsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof v));

  /* The second connect of a connected socket is EISCONN; listen on it EINVAL. */
  struct sockaddr_in to = lo_addr(port);
  EXPECT_ERR(EISCONN, connect(c, (struct sockaddr*)&to, sizeof to));
  EXPECT_ERR(EINVAL, accept(c, NULL, NULL));
  close(c), close(s), close(l);
}

/* --- 4 MiB between two threads, with a checksum -------------------------------- */

#define BULK (4u << 20)
static uint64_t fnv(uint64_t h, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}
static int g_bulk_listener;
static uint64_t g_bulk_got_sum;
static size_t g_bulk_got;

static void* bulk_server(void* arg) {
  (void)arg;
  int s = accept(g_bulk_listener, NULL, NULL);
  unsigned char* buf = malloc(65536);
  uint64_t h = 1469598103934665603ull;
  size_t total = 0;
  for (;;) {
    ssize_t r = read(s, buf, 1 + (total % 65535));
    if (r <= 0) break;
    h = fnv(h, buf, (size_t)r);
    total += (size_t)r;
  }
  g_bulk_got = total;
  g_bulk_got_sum = h;
  /* The sum back to the client. */
  write(s, &h, sizeof h);
  close(s);
  free(buf);
  return NULL;
}

static void test_bulk(void) {
  g_bulk_listener = listener(4);
  pthread_t t;
  pthread_create(&t, NULL, bulk_server, NULL);
  int c = connect_to(port_of(g_bulk_listener));
  unsigned char* data = malloc(BULK);
  for (size_t i = 0; i < BULK; ++i) data[i] = (unsigned char)(i * 7 + (i >> 12));
  uint64_t want = fnv(1469598103934665603ull, data, BULK);
  size_t off = 0, chunk = 1;
  while (off < BULK) {
    size_t n = BULK - off < chunk ? BULK - off : chunk;
    ssize_t w = write(c, data + off, n);
    if (w <= 0) break;
    off += (size_t)w;
    chunk = chunk * 3 + 1;
    if (chunk > 300000) chunk = 7;
  }
  CHECK(off == BULK, "wrote %zu", off);
  CHECK(shutdown(c, SHUT_WR) == 0, "shutdown SHUT_WR");
  uint64_t back = 0;
  CHECK(recv(c, &back, sizeof back, MSG_WAITALL) == sizeof back, "the server's sum");
  char x;
  CHECK(read(c, &x, 1) == 0, "EOF after the server closed");
  pthread_join(t, NULL);
  CHECK(g_bulk_got == BULK, "the server read %zu bytes", g_bulk_got);
  CHECK(back == want && g_bulk_got_sum == want, "checksums match");
  close(c);
  close(g_bulk_listener);
  free(data);
}

/* --- many connections ------------------------------------------------------------ */

#define MANY 500
static int g_many_listener;
static int g_many_served;
static void* many_server(void* arg) {
  (void)arg;
  for (int i = 0; i < MANY; ++i) {
    int s = accept(g_many_listener, NULL, NULL);
    if (s < 0) break;
    char b;
    if (read(s, &b, 1) == 1 && write(s, &b, 1) == 1) ++g_many_served;
    close(s);
  }
  return NULL;
}

static void test_many(void) {
  g_many_listener = listener(64);
  pthread_t t;
  pthread_create(&t, NULL, many_server, NULL);
  uint16_t port = port_of(g_many_listener);
  int ok = 0;
  for (int i = 0; i < MANY; ++i) {
    int c = connect_to(port);
    char b = (char)i, e = 0, x;
    if (write(c, &b, 1) == 1 && read(c, &e, 1) == 1 && e == b && read(c, &x, 1) == 0) ++ok;
    close(c);
  }
  pthread_join(t, NULL);
  CHECK(ok == MANY && g_many_served == MANY, "%d connections, %d served", ok, g_many_served);
  close(g_many_listener);
}

/* --- non-blocking connect ------------------------------------------------------ */

static void test_nonblocking_connect(void) {
  int l = listener(4);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in to = lo_addr(port_of(l));
  int r = connect(c, (struct sockaddr*)&to, sizeof to);
  CHECK(r == 0 || errno == EINPROGRESS, "non-blocking connect: %d", r);
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLOUT, .data.fd = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
  struct epoll_event out;
  CHECK(epoll_wait(ep, &out, 1, -1) == 1 && (out.events & EPOLLOUT) && !(out.events & EPOLLERR), "EPOLLOUT");
  int err = -1;
  socklen_t el = sizeof err;
  CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0, "SO_ERROR %d", err);
  /* The next connect reports the completion (0), the one after EISCONN. */
  CHECK(connect(c, (struct sockaddr*)&to, sizeof to) == 0, "connect after completion");
  EXPECT_ERR(EISCONN, connect(c, (struct sockaddr*)&to, sizeof to));
  int s = accept(l, NULL, NULL);
  CHECK(s >= 0, "accept");
  char buf[8];
  EXPECT_ERR(EAGAIN, read(c, buf, sizeof buf));
  write(s, "ok", 2);
  e.events = EPOLLIN | EPOLLRDHUP;
  epoll_ctl(ep, EPOLL_CTL_MOD, c, &e);
  CHECK(epoll_wait(ep, &out, 1, -1) == 1 && (out.events & EPOLLIN), "EPOLLIN");
  CHECK(read(c, buf, sizeof buf) == 2, "read");
  /* The peer's FIN: EPOLLRDHUP, then EOF. */
  shutdown(s, SHUT_WR);
  CHECK(epoll_wait(ep, &out, 1, -1) == 1 && (out.events & EPOLLRDHUP), "EPOLLRDHUP (events %#x)", out.events);
  CHECK(read(c, buf, sizeof buf) == 0, "EOF");
  /* The other direction still works after the peer's SHUT_WR. */
  CHECK(write(c, "back", 4) == 4, "write after the peer's shutdown");
  CHECK(recv(s, buf, 4, MSG_WAITALL) == 4, "the peer reads it");
  close(ep), close(c), close(s);

  /* To a closed port. */
  uint16_t gone = port_of(l);
  close(l);
  c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  to = lo_addr(gone);
  r = connect(c, (struct sockaddr*)&to, sizeof to);
  CHECK(r == -1 && (errno == EINPROGRESS || errno == ECONNREFUSED), "non-blocking connect to a closed port");
  if (r == -1 && errno == EINPROGRESS) {
    struct pollfd p = {c, POLLOUT, 0};
    CHECK(poll(&p, 1, -1) == 1 && (p.revents & POLLERR) && (p.revents & POLLHUP), "POLLERR|POLLHUP (%#x)", p.revents);
    err = 0;
    CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == ECONNREFUSED, "SO_ERROR ECONNREFUSED: %d", err);
  }
  close(c);
  c = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_ERR(ECONNREFUSED, connect(c, (struct sockaddr*)&to, sizeof to));
  close(c);
}

/* --- endings: EPIPE, ECONNRESET ------------------------------------------------- */

static void pair_of(int l, int* c, int* s) {
  *c = connect_to(port_of(l));
  *s = accept(l, NULL, NULL);
}

static void test_endings(void) {
  int l = listener(8), c, s;
  char buf[4096];
  memset(buf, 'p', sizeof buf);

  /* The peer closed: writes end in EPIPE and SIGPIPE. */
  pair_of(l, &c, &s);
  close(s);
  CHECK(read(c, buf, sizeof buf) == 0, "EOF");
  int sigs = g_sigpipes;
  ssize_t w = 0;
  int i = 0;
  for (; i < 100 && (w = write(c, buf, sizeof buf)) > 0; ++i) {
    struct pollfd p = {c, POLLIN, 0};
    poll(&p, 1, 10);  /* give the reset time to come back; the loop ends on the error, not the time */
  }
  CHECK(w == -1 && errno == EPIPE, "write after the peer closed: %zd", w);
  CHECK(g_sigpipes > sigs, "SIGPIPE");
  sigs = g_sigpipes;
  EXPECT_ERR(EPIPE, send(c, buf, 1, MSG_NOSIGNAL));
  CHECK(g_sigpipes == sigs, "no SIGPIPE with MSG_NOSIGNAL");
  close(c);

  /* SO_LINGER 0: close resets; the peer reads ECONNRESET. */
  pair_of(l, &c, &s);
  struct linger lg = {1, 0};
  CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0, "SO_LINGER");
  struct linger back;
  socklen_t bl = sizeof back;
  CHECK(getsockopt(s, SOL_SOCKET, SO_LINGER, &back, &bl) == 0 && back.l_onoff == 1 && back.l_linger == 0, "SO_LINGER reads back");
  close(s);
  struct pollfd p = {c, POLLIN, 0};
  poll(&p, 1, -1);
  EXPECT_ERR(ECONNRESET, read(c, buf, sizeof buf));
  CHECK(read(c, buf, sizeof buf) == 0, "then EOF");
  close(c);

  /* Closing with unread data resets too. */
  pair_of(l, &c, &s);
  write(c, "unread", 6);
  char x;
  CHECK(recv(s, &x, 1, MSG_PEEK) == 1, "it arrived");
  close(s);
  p.fd = c;
  poll(&p, 1, -1);
  EXPECT_ERR(ECONNRESET, recv(c, buf, sizeof buf, 0));
  close(c);

  /* shutdown(SHUT_RDWR) on one end: the other reads EOF; POLLHUP here. */
  pair_of(l, &c, &s);
  CHECK(shutdown(c, SHUT_RDWR) == 0, "SHUT_RDWR");
  CHECK(read(s, buf, sizeof buf) == 0, "EOF at the peer");
  close(s);
  p.fd = c, p.events = POLLIN;
  CHECK(poll(&p, 1, -1) == 1 && (p.revents & POLLHUP), "POLLHUP (%#x)", p.revents);
  EXPECT_ERR(EPIPE, send(c, "x", 1, MSG_NOSIGNAL));
  close(c);
  close(l);
}

static void test_ports(void) {
  int l = listener(4);
  struct sockaddr_in a = lo_addr(port_of(l));
  int b = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_ERR(EADDRINUSE, bind(b, (struct sockaddr*)&a, sizeof a));
  int one = 1;
  setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* SO_REUSEADDR does not let a second socket bind a listening port. */
  EXPECT_ERR(EADDRINUSE, bind(b, (struct sockaddr*)&a, sizeof a));
  close(b);
  /* A server that closed with connections in TIME_WAIT binds again with SO_REUSEADDR. */
  int c = connect_to(ntohs(a.sin_port));
  int s = accept(l, NULL, NULL);
  close(s);  /* the server closes first: its end goes to TIME_WAIT */
  char x;
  CHECK(read(c, &x, 1) == 0, "EOF");
  close(c);
  close(l);
  l = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  CHECK(bind(l, (struct sockaddr*)&a, sizeof a) == 0, "bind again with SO_REUSEADDR");
  CHECK(listen(l, 1) == 0, "listen again");
  close(l);
}

static void test_bad_input(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = lo_addr(1);
  EXPECT_ERR(EINVAL, connect(s, (struct sockaddr*)&a, sizeof a - 1));
  EXPECT_ERR(EFAULT, connect(s, (struct sockaddr*)g_bad, sizeof a));
  struct sockaddr_in six = a;
  six.sin_family = AF_INET6;
  EXPECT_ERR(EAFNOSUPPORT, connect(s, (struct sockaddr*)&six, sizeof six));
  char buf[8];
  EXPECT_ERR(ENOTCONN, recv(s, buf, sizeof buf, 0));
  EXPECT_ERR(EPIPE, send(s, "x", 1, MSG_NOSIGNAL));
  struct sockaddr_in peer;
  socklen_t pl = sizeof peer;
  EXPECT_ERR(ENOTCONN, getpeername(s, (struct sockaddr*)&peer, &pl));
  EXPECT_ERR(ENOTCONN, shutdown(s, SHUT_WR));
  EXPECT_ERR(EINVAL, accept(s, NULL, NULL));
  EXPECT_ERR(EINVAL, shutdown(s, 7));
  struct sockaddr_in z = lo_addr(0);
  CHECK(bind(s, (struct sockaddr*)&z, sizeof z) == 0, "bind");
  EXPECT_ERR(EINVAL, bind(s, (struct sockaddr*)&z, sizeof z));
  CHECK(listen(s, 1) == 0, "listen");
  int c = connect_to(port_of(s));
  EXPECT_ERR(EFAULT, accept(s, (struct sockaddr*)g_bad, &pl));  /* the connection is dropped */
  close(c);
  close(s);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  int v = 1;
  EXPECT_ERR(ENOPROTOOPT, setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v));
  close(u);
}

/* --- TCP_CONGESTION ---------------------------------------------------------- */

static void test_congestion(void) {
  /* The default is the system's (cubic in Capsule; the host's may be
   * another, bbr here): a name. "reno" and "cubic" are there everywhere. */
  int c = socket(AF_INET, SOCK_STREAM, 0);
  char name[32];
  memset(name, 'x', sizeof name);
  socklen_t nl = sizeof name;
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, name, &nl) == 0 && nl == 16 && name[0] >= 'a' &&
            name[0] <= 'z' && name[15] == 0 && name[16] == 'x',
        "TCP_CONGESTION default: %d bytes, '%.16s'", (int)nl, name);
  CHECK(setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) == 0, "TCP_CONGESTION reno");
  nl = sizeof name;
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, name, &nl) == 0 && nl == 16 && strcmp(name, "reno") == 0 &&
            name[5] == 0 && name[15] == 0,
        "reads back reno, NUL-padded to 16: '%s'", name);
  /* A shorter buffer gets that many bytes, no NUL. */
  memset(name, 'x', sizeof name);
  nl = 3;
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, name, &nl) == 0 && nl == 3 && memcmp(name, "renx", 4) == 0,
        "3 bytes: %d '%.4s'", (int)nl, name);
  /* optlen bounds the name: "cubicXYZ" with 5 is cubic; a NUL ends it early. */
  CHECK(setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "cubicXYZ", 5) == 0, "TCP_CONGESTION cubic (optlen 5)");
  nl = sizeof name;
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, name, &nl) == 0 && strcmp(name, "cubic") == 0, "cubic: '%s'",
        name);
  CHECK(setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "reno\0junk", 9) == 0, "reno then a NUL");
  EXPECT_ERR(ENOENT, setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "nosuchalgo", 10));
  EXPECT_ERR(ENOENT, setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "cubicXYZ", 8));
  EXPECT_ERR(ENOENT, setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "", 1));
  EXPECT_ERR(EINVAL, setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "reno", 0));
  EXPECT_ERR(EFAULT, setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, (void*)g_bad, 4));
  nl = sizeof name;
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, name, &nl) == 0 && strcmp(name, "reno") == 0,
        "failed calls left reno: '%s'", name);
  /* UDP has no SOL_TCP options: setsockopt is ENOPROTOOPT... */
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  EXPECT_ERR(ENOPROTOOPT, setsockopt(u, IPPROTO_TCP, TCP_CONGESTION, "reno", 4));
  nl = sizeof name;
  /* ...and getsockopt says so differently (do_ip_getsockopt: EOPNOTSUPP). */
  EXPECT_ERR(EOPNOTSUPP, getsockopt(u, IPPROTO_TCP, TCP_CONGESTION, name, &nl));
  nl = sizeof name;
  EXPECT_ERR(EOPNOTSUPP, getsockopt(u, IPPROTO_TCP, TCP_NODELAY, name, &nl));
  close(u);
  /* A listener's choice goes to the connections it accepts; a connection
   * can change it while data flows. */
  int l = listener(4);
  CHECK(setsockopt(l, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) == 0, "listener: reno");
  close(c);
  c = connect_to(port_of(l));
  int s = accept(l, NULL, NULL);
  nl = sizeof name;
  CHECK(s >= 0 && getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, name, &nl) == 0 && strcmp(name, "reno") == 0,
        "accepted: '%s'", name);
  /* Both ends offered window scaling, SACK and timestamps in their SYNs
   * (RFC 7323, RFC 2018): all three are on, and a data segment carries
   * at most the loopback MSS less the timestamps' 12 bytes (Linux also
   * bounds it by half the largest window the peer offered: 32741 here). */
  struct tcp_info ti;
  memset(&ti, 0xff, sizeof ti);
  socklen_t tl = sizeof ti;
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && tl > 100 && tl <= sizeof ti, "TCP_INFO: %d bytes",
        (int)tl);
  CHECK(ti.tcpi_state == TCP_ESTABLISHED, "tcpi_state %d", ti.tcpi_state);
  CHECK((ti.tcpi_options & (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE)) ==
            (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE),
        "tcpi_options %#x", ti.tcpi_options);
  int v = 0;
  socklen_t vl = sizeof v;
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, &vl) == 0 && v == (int)ti.tcpi_snd_mss && v <= 65483 && v > 30000,
        "TCP_MAXSEG %d, tcpi_snd_mss %u", v, ti.tcpi_snd_mss);
  CHECK(ti.tcpi_snd_cwnd >= 2 && ti.tcpi_rto >= 200000 && ti.tcpi_total_retrans == 0,
        "cwnd %u, rto %u us, %u retransmissions", ti.tcpi_snd_cwnd, ti.tcpi_rto, ti.tcpi_total_retrans);
  tl = 4;
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && tl == 4, "TCP_INFO into 4 bytes: %d", (int)tl);
  int ud = socket(AF_INET, SOCK_DGRAM, 0);
  tl = sizeof ti;
  EXPECT_ERR(EOPNOTSUPP, getsockopt(ud, IPPROTO_TCP, TCP_INFO, &ti, &tl));
  close(ud);
  CHECK(setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5) == 0, "switch to cubic while connected");
  static char chunk[65536];
  for (int i = 0; i < 16; ++i) {
    CHECK(send(s, chunk, sizeof chunk, 0) == (ssize_t)sizeof chunk, "send %d", i);
    CHECK(recv(c, chunk, sizeof chunk, MSG_WAITALL) == (ssize_t)sizeof chunk, "recv %d", i);
  }
  close(s), close(c), close(l);
}

int main(void) {
  signal(SIGPIPE, on_sigpipe);
  test_congestion();
  test_basics();
  test_bulk();
  test_many();
  test_nonblocking_connect();
  test_endings();
  test_ports();
  test_bad_input();
  if (g_failures) {
    printf("%d checks failed in inet_tcp\n", g_failures);
    return 1;
  }
  printf("PASS inet_tcp\n");
  return 0;
}
