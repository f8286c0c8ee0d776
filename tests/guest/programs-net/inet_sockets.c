/* AF_INET sockets over the loopback interface (net/inet, linux/sys_socket.cc,
 * docs/net.md): UDP datagrams on 127.0.0.1 (names, ephemeral ports,
 * EADDRINUSE and SO_REUSEADDR/SO_REUSEPORT, connect, MSG_PEEK/DONTWAIT/
 * TRUNC, sendmsg/recvmsg, FIONREAD, poll/epoll, SO_RCVBUF dropping,
 * ECONNREFUSED from ICMP on a connected socket), and what bad input gets.
 * Passes on Linux too (tests/guest/net.cmake runs it there as well). One
 * "FAIL ..." line per failed check, "PASS inet_sockets" at the end. */
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
#include <sys/uio.h>
#include <unistd.h>

#include "../include/guest_check.h"

static void* volatile g_bad = (void*)16; /* unmapped */

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

/* A UDP socket bound to 127.0.0.1 and an ephemeral port. */
static int udp_bound(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(fd >= 0, "udp socket");
  struct sockaddr_in a = lo_addr(0);
  CHECK(bind(fd, (struct sockaddr*)&a, sizeof a) == 0, "bind 127.0.0.1:0");
  return fd;
}

/* Waits (without a time limit that could fail a slow run) for fd to be readable. */
static int wait_readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, -1) == 1 ? p.revents : 0;
}

static void test_udp_basics(void) {
  int a = udp_bound(), b = socket(AF_INET, SOCK_DGRAM, 0);
  uint16_t pa = port_of(a);
  CHECK(pa >= 1024, "ephemeral port %u", pa);
  CHECK(port_of(b) == 0, "an unbound socket's port is 0");
  struct sockaddr_in to = lo_addr(pa);
  CHECK(sendto(b, "hello", 5, 0, (struct sockaddr*)&to, sizeof to) == 5, "sendto");
  uint16_t pb = port_of(b);
  CHECK(pb != 0 && pb != pa, "sendto autobinds: port %u", pb);
  char buf[128];
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  CHECK(wait_readable(a) & POLLIN, "poll POLLIN");
  int n = -1;
  CHECK(ioctl(a, FIONREAD, &n) == 0 && n == 5, "FIONREAD %d", n);
  CHECK(recv(a, buf, 2, MSG_PEEK) == 2 && memcmp(buf, "he", 2) == 0, "peek");
  ssize_t r = recvfrom(a, buf, sizeof buf, 0, (struct sockaddr*)&from, &fl);
  CHECK(r == 5 && memcmp(buf, "hello", 5) == 0, "recvfrom %zd", r);
  CHECK(fl == sizeof from && from.sin_family == AF_INET && from.sin_port == htons(pb) &&
            from.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
        "sender's address len %u port %u", fl, ntohs(from.sin_port));
  EXPECT_ERR(EAGAIN, recv(a, buf, sizeof buf, MSG_DONTWAIT));

  /* Datagram boundaries; MSG_TRUNC. */
  char big[100];
  memset(big, 'x', sizeof big);
  CHECK(sendto(b, big, 100, 0, (struct sockaddr*)&to, sizeof to) == 100, "send 100");
  CHECK(sendto(b, "z", 1, 0, (struct sockaddr*)&to, sizeof to) == 1, "send 1");
  wait_readable(a);
  CHECK(recv(a, buf, 10, MSG_TRUNC) == 100, "MSG_TRUNC returns the real length");
  wait_readable(a);
  struct iovec iov = {buf, sizeof buf};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_name = &from;
  mh.msg_namelen = sizeof from;
  CHECK(recvmsg(a, &mh, 0) == 1 && buf[0] == 'z' && mh.msg_namelen == sizeof from, "recvmsg");
  CHECK(sendto(b, big, 100, 0, (struct sockaddr*)&to, sizeof to) == 100, "send 100 again");
  wait_readable(a);
  iov.iov_len = 10;
  mh.msg_flags = 0;
  CHECK(recvmsg(a, &mh, 0) == 10 && (mh.msg_flags & MSG_TRUNC), "recvmsg cut: MSG_TRUNC in msg_flags");

  /* sendmsg with two pieces is one datagram. */
  struct iovec two[2] = {{"ab", 2}, {"cde", 3}};
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = two;
  mh.msg_iovlen = 2;
  mh.msg_name = &to;
  mh.msg_namelen = sizeof to;
  CHECK(sendmsg(b, &mh, 0) == 5, "sendmsg");
  wait_readable(a);
  CHECK(recv(a, buf, sizeof buf, 0) == 5 && memcmp(buf, "abcde", 5) == 0, "one datagram");

  /* The largest datagram; one byte more is EMSGSIZE. */
  char* huge = malloc(65508);
  memset(huge, 'h', 65508);
  int sz = 1 << 20;
  setsockopt(a, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  CHECK(sendto(b, huge, 65507, 0, (struct sockaddr*)&to, sizeof to) == 65507, "65507 bytes");
  EXPECT_ERR(EMSGSIZE, sendto(b, huge, 65508, 0, (struct sockaddr*)&to, sizeof to));
  wait_readable(a);
  CHECK(recv(a, huge, 65508, 0) == 65507, "65507 received");
  free(huge);

  /* 0.0.0.0 as a destination is this host. */
  struct sockaddr_in any = to;
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  CHECK(sendto(b, "any", 3, 0, (struct sockaddr*)&any, sizeof any) == 3, "sendto 0.0.0.0");
  wait_readable(a);
  CHECK(recv(a, buf, sizeof buf, 0) == 3, "received via 0.0.0.0");

  int v = 0;
  socklen_t vl = sizeof v;
  CHECK(getsockopt(a, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_DGRAM, "SO_TYPE");
  CHECK(getsockopt(a, SOL_SOCKET, SO_DOMAIN, &v, &vl) == 0 && v == AF_INET, "SO_DOMAIN");
  CHECK(getsockopt(a, SOL_SOCKET, SO_PROTOCOL, &v, &vl) == 0 && v == IPPROTO_UDP, "SO_PROTOCOL");
  CHECK(getsockopt(a, IPPROTO_IP, IP_TTL, &v, &vl) == 0 && v == 64, "IP_TTL %d", v);
  v = 0;
  EXPECT_ERR(EINVAL, setsockopt(a, IPPROTO_IP, IP_TTL, &v, sizeof v));
  struct sockaddr_in peer;
  socklen_t pl = sizeof peer;
  EXPECT_ERR(ENOTCONN, getpeername(a, (struct sockaddr*)&peer, &pl));
  EXPECT_ERR(ENOTCONN, shutdown(a, SHUT_RD));
  EXPECT_ERR(EDESTADDRREQ, send(a, "x", 1, 0));
  close(a);
  close(b);
}

static void test_udp_connect(void) {
  int a = udp_bound(), b = udp_bound();
  struct sockaddr_in ta = lo_addr(port_of(a)), tb = lo_addr(port_of(b));
  CHECK(connect(b, (struct sockaddr*)&ta, sizeof ta) == 0, "connect");
  struct sockaddr_in peer;
  socklen_t pl = sizeof peer;
  CHECK(getpeername(b, (struct sockaddr*)&peer, &pl) == 0 && peer.sin_port == ta.sin_port, "getpeername");
  CHECK(send(b, "c1", 2, 0) == 2, "send on a connected socket");
  char buf[16];
  wait_readable(a);
  CHECK(recv(a, buf, sizeof buf, 0) == 2, "received");
  /* A connected socket hears only from its peer. */
  int c = udp_bound();
  CHECK(sendto(c, "no", 2, 0, (struct sockaddr*)&tb, sizeof tb) == 2, "a stranger sends");
  CHECK(sendto(a, "yes", 3, 0, (struct sockaddr*)&tb, sizeof tb) == 3, "the peer sends");
  wait_readable(b);
  CHECK(recv(b, buf, sizeof buf, 0) == 3 && memcmp(buf, "yes", 3) == 0, "only the peer's datagram");
  EXPECT_ERR(EAGAIN, recv(b, buf, sizeof buf, MSG_DONTWAIT));
  /* AF_UNSPEC dissolves the association. */
  struct sockaddr un = {.sa_family = AF_UNSPEC};
  CHECK(connect(b, &un, sizeof un) == 0, "connect AF_UNSPEC");
  EXPECT_ERR(ENOTCONN, getpeername(b, (struct sockaddr*)&peer, &pl));
  CHECK(port_of(b) == 0, "a port bind chose itself goes back: %u", port_of(b));
  /* A port the program chose stays. */
  int e = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in te = lo_addr(ntohs(tb.sin_port));
  close(b);
  b = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(bind(e, (struct sockaddr*)&te, sizeof te) == 0, "bind to a chosen port");
  CHECK(connect(e, (struct sockaddr*)&ta, sizeof ta) == 0 && connect(e, &un, sizeof un) == 0, "connect, disconnect");
  CHECK(port_of(e) == ntohs(te.sin_port), "the chosen port stays");
  close(e);

  /* ECONNREFUSED: a connected socket to a port nobody has. */
  int gone = udp_bound();
  struct sockaddr_in tg = lo_addr(port_of(gone));
  close(gone);
  int d = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(connect(d, (struct sockaddr*)&tg, sizeof tg) == 0, "connect to a closed port");
  CHECK(send(d, "?", 1, 0) == 1, "the send itself succeeds");
  int ev = wait_readable(d);
  CHECK(ev & POLLERR, "POLLERR after the ICMP error (revents %#x)", ev);
  EXPECT_ERR(ECONNREFUSED, recv(d, buf, sizeof buf, 0));
  EXPECT_ERR(EAGAIN, recv(d, buf, sizeof buf, MSG_DONTWAIT));  /* the error is reported once */
  /* The same through SO_ERROR. */
  CHECK(send(d, "?", 1, 0) == 1, "send again");
  struct pollfd p = {d, 0, 0};
  poll(&p, 1, -1);
  int err = 0;
  socklen_t el = sizeof err;
  CHECK(getsockopt(d, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == ECONNREFUSED, "SO_ERROR %d", err);
  close(a), close(b), close(c), close(d);
}

static void test_udp_ports(void) {
  int a = udp_bound();
  struct sockaddr_in ta = lo_addr(port_of(a));
  int b = socket(AF_INET, SOCK_DGRAM, 0);
  EXPECT_ERR(EADDRINUSE, bind(b, (struct sockaddr*)&ta, sizeof ta));
  struct sockaddr_in wild = ta;
  wild.sin_addr.s_addr = htonl(INADDR_ANY);
  EXPECT_ERR(EADDRINUSE, bind(b, (struct sockaddr*)&wild, sizeof wild));
  EXPECT_ERR(EINVAL, bind(a, (struct sockaddr*)&wild, sizeof wild));  /* bound already */
  close(a), close(b);

  /* Both with SO_REUSEADDR: both bind. */
  int one = 1;
  a = socket(AF_INET, SOCK_DGRAM, 0);
  b = socket(AF_INET, SOCK_DGRAM, 0);
  setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in z = lo_addr(0);
  CHECK(bind(a, (struct sockaddr*)&z, sizeof z) == 0, "bind a");
  z = lo_addr(port_of(a));
  CHECK(bind(b, (struct sockaddr*)&z, sizeof z) == 0, "SO_REUSEADDR: bind b to a's port");
  int v = 0;
  socklen_t vl = sizeof v;
  CHECK(getsockopt(b, SOL_SOCKET, SO_REUSEADDR, &v, &vl) == 0 && v == 1, "SO_REUSEADDR reads back");
  close(a), close(b);
  a = socket(AF_INET, SOCK_DGRAM, 0);
  b = socket(AF_INET, SOCK_DGRAM, 0);
  setsockopt(a, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(b, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  z = lo_addr(0);
  CHECK(bind(a, (struct sockaddr*)&z, sizeof z) == 0, "bind a");
  z = lo_addr(port_of(a));
  CHECK(bind(b, (struct sockaddr*)&z, sizeof z) == 0, "SO_REUSEPORT: bind b to a's port");
  close(a), close(b);

  /* Many sockets get distinct ephemeral ports. */
  int fds[64];
  uint16_t ports[64];
  int distinct = 1;
  for (int i = 0; i < 64; ++i) {
    fds[i] = udp_bound();
    ports[i] = port_of(fds[i]);
    for (int j = 0; j < i; ++j) distinct &= ports[i] != ports[j];
  }
  CHECK(distinct, "64 distinct ephemeral ports");
  for (int i = 0; i < 64; ++i) close(fds[i]);
}

static void test_udp_rcvbuf(void) {
  int a = udp_bound(), b = udp_bound(), marker = udp_bound();
  int sz = 4096;
  CHECK(setsockopt(a, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz) == 0, "SO_RCVBUF");
  int v = 0;
  socklen_t vl = sizeof v;
  CHECK(getsockopt(a, SOL_SOCKET, SO_RCVBUF, &v, &vl) == 0 && v == 8192, "SO_RCVBUF doubled: %d", v);
  struct sockaddr_in ta = lo_addr(port_of(a)), tm = lo_addr(port_of(marker));
  char msg[1000];
  memset(msg, 'r', sizeof msg);
  for (int i = 0; i < 100; ++i) sendto(b, msg, sizeof msg, 0, (struct sockaddr*)&ta, sizeof ta);
  /* Everything sent before the marker has been delivered or dropped once the marker arrives. */
  sendto(b, "m", 1, 0, (struct sockaddr*)&tm, sizeof tm);
  wait_readable(marker);
  int got = 0;
  while (recv(a, msg, sizeof msg, MSG_DONTWAIT) == (ssize_t)sizeof msg) ++got;
  CHECK(got > 0 && got < 100, "a small SO_RCVBUF drops datagrams: %d of 100 kept", got);
  close(a), close(b), close(marker);
}

static void test_udp_epoll(void) {
  int a = udp_bound(), b = udp_bound();
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.fd = a};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &e) == 0, "epoll_ctl");
  struct epoll_event out[4];
  CHECK(epoll_wait(ep, out, 4, 0) == 0, "nothing yet");
  struct sockaddr_in ta = lo_addr(port_of(a));
  sendto(b, "e", 1, 0, (struct sockaddr*)&ta, sizeof ta);
  CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].data.fd == a && (out[0].events & EPOLLIN), "EPOLLIN");
  char c;
  CHECK(recv(a, &c, 1, 0) == 1, "read it");
  close(ep), close(a), close(b);
}

static void test_bad_input(void) {
  EXPECT_ERR(ESOCKTNOSUPPORT, socket(AF_INET, SOCK_SEQPACKET, 0));
  EXPECT_ERR(EPROTONOSUPPORT, socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
  EXPECT_ERR(EPROTONOSUPPORT, socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
  int sv[2];
  EXPECT_ERR(EOPNOTSUPP, socketpair(AF_INET, SOCK_DGRAM, 0, sv));
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = lo_addr(0);
  EXPECT_ERR(EINVAL, bind(s, (struct sockaddr*)&a, sizeof a - 1));   /* short sockaddr_in */
  EXPECT_ERR(EINVAL, bind(s, (struct sockaddr*)&a, -1));
  EXPECT_ERR(EFAULT, bind(s, (struct sockaddr*)g_bad, sizeof a));
  struct sockaddr_in wrong = a;
  wrong.sin_family = AF_UNIX;
  EXPECT_ERR(EAFNOSUPPORT, bind(s, (struct sockaddr*)&wrong, sizeof wrong));
  struct sockaddr_in unspec = a;
  unspec.sin_family = AF_UNSPEC;
  unspec.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_ERR(EAFNOSUPPORT, bind(s, (struct sockaddr*)&unspec, sizeof unspec));  /* only INADDR_ANY */
  struct sockaddr_in far = a;
  far.sin_addr.s_addr = inet_addr("10.255.255.1");  /* not this host's */
  EXPECT_ERR(EADDRNOTAVAIL, bind(s, (struct sockaddr*)&far, sizeof far));
  wrong.sin_family = AF_INET6;
  EXPECT_ERR(EAFNOSUPPORT, connect(s, (struct sockaddr*)&wrong, sizeof wrong));
  EXPECT_ERR(EINVAL, connect(s, (struct sockaddr*)&a, 1));
  EXPECT_ERR(EFAULT, connect(s, (struct sockaddr*)g_bad, sizeof a));
  a.sin_port = htons(9);
  EXPECT_ERR(EINVAL, sendto(s, "x", 1, 0, (struct sockaddr*)&a, 4));
  EXPECT_ERR(EFAULT, sendto(s, g_bad, 1, 0, (struct sockaddr*)&a, sizeof a));
  wrong.sin_family = AF_UNIX;
  EXPECT_ERR(EAFNOSUPPORT, sendto(s, "x", 1, 0, (struct sockaddr*)&wrong, sizeof wrong));
  socklen_t len = sizeof a;
  EXPECT_ERR(EFAULT, getsockname(s, (struct sockaddr*)g_bad, &len));
  EXPECT_ERR(EFAULT, getsockname(s, (struct sockaddr*)&a, (socklen_t*)g_bad));
  int v = 1;
  EXPECT_ERR(ENOPROTOOPT, setsockopt(s, IPPROTO_IP, 12345, &v, sizeof v));
  EXPECT_ERR(EFAULT, setsockopt(s, SOL_SOCKET, SO_REUSEADDR, g_bad, sizeof v));
  close(s);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  test_udp_basics();
  test_udp_connect();
  test_udp_ports();
  test_udp_rcvbuf();
  test_udp_epoll();
  test_bad_input();
  if (g_failures) {
    printf("%d checks failed in inet_sockets\n", g_failures);
    return 1;
  }
  printf("PASS inet_sockets\n");
  return 0;
}
