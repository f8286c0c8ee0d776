/* abi-test: TIMEOUT 240 MEM 256M */
/* AF_INET6 over loopback (net/inet/, docs/net.md "IPv6"), in the VM and on
 * the host, as a server or client program uses it:
 * - TCP over [::1]: bind, getsockname/getpeername as sockaddr_in6 (28
 *   bytes, ::1, the ports), accept's address, 8 MiB each way through an
 *   echo thread, byte-exact;
 * - a dual-stack [::] listener (IPV6_V6ONLY 0, the default) accepts an
 *   IPv4 client and sees it as ::ffff:127.0.0.1; a 0.0.0.0 bind of its
 *   port is EADDRINUSE; with IPV6_V6ONLY 1 the IPv4 connect is refused and
 *   the 0.0.0.0 bind coexists; V6ONLY reads back and cannot change once
 *   bound (EINVAL); an AF_INET6 socket connects to a v4-mapped address,
 *   unless V6ONLY (ENETUNREACH);
 * - UDP over [::1]: round trips of 0..65527 bytes (the largest in two
 *   fragments on lo, reassembled; 65528 is EMSGSIZE) with the sender's
 *   address from recvfrom and recvmsg; a dual-stack UDP socket takes an
 *   IPv4 datagram (from ::ffff:127.0.0.1) and answers it; sendto with an
 *   AF_INET address; a connected socket sending to a closed port gets
 *   ECONNREFUSED (ICMPv6 port unreachable);
 * - bad input as Linux: a sockaddr_in6 shorter than 24 bytes EINVAL, an
 *   AF_INET address to bind/connect of an AF_INET6 TCP socket
 *   EAFNOSUPPORT, SOL_IPV6 on an AF_INET socket ENOPROTOOPT;
 * - getaddrinfo("::1") and /proc/net/tcp6 and udp6 listing the sockets
 *   (and /proc/net/tcp not).
 * Waits are bounded (poll, 10 s). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "check.h"

#define BIG (8u << 20)

static struct sockaddr_in6 addr6(const char* ip, uint16_t port) {
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

static struct sockaddr_in addr4(const char* ip, uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static uint16_t port_of(int fd) {
  struct sockaddr_in6 a;
  socklen_t len = sizeof a;
  if (getsockname(fd, (struct sockaddr*)&a, &len) != 0) return 0;
  return ntohs(a.sin6_port);
}

static const char* str6(const struct sockaddr_in6* a, char* buf) {
  inet_ntop(AF_INET6, &a->sin6_addr, buf, INET6_ADDRSTRLEN);
  return buf;
}

static int is_addr(const struct sockaddr_in6* a, const char* ip) {
  struct in6_addr want;
  inet_pton(AF_INET6, ip, &want);
  return a->sin6_family == AF_INET6 && memcmp(&a->sin6_addr, &want, 16) == 0;
}

static int wait_fd(int fd, short ev) {
  struct pollfd p = {fd, ev, 0};
  return poll(&p, 1, 10000) == 1;
}

static int v6only(int fd) {
  int v = -1;
  socklen_t len = sizeof v;
  if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len) != 0) return -2;
  return v;
}

static void set_v6only(int fd, int v) { EXPECT_OK(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v)); }

/* An [addr]:0 TCP listener; its port in *port. */
static int listener6(const char* ip, int only, uint16_t* port) {
  int l = EXPECT_OK(socket(AF_INET6, SOCK_STREAM, 0));
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (only >= 0) set_v6only(l, only);
  struct sockaddr_in6 a = addr6(ip, 0);
  EXPECT_OK(bind(l, (struct sockaddr*)&a, sizeof a));
  EXPECT_OK(listen(l, 8));
  *port = port_of(l);
  return l;
}

/* --- TCP over [::1] with an echo thread -------------------------------------------- */

static void* echo(void* arg) {
  int fd = (int)(intptr_t)arg;
  static char buf[65536];
  for (;;) {
    if (!wait_fd(fd, POLLIN)) break;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(fd, buf + off, (size_t)(n - off));
      if (w <= 0) return NULL;
      off += w;
    }
  }
  shutdown(fd, SHUT_WR);
  return NULL;
}

static void tcp_echo(void) {
  uint16_t port;
  int l = listener6("::1", -1, &port);
  CHECK(port != 0, "no port");
  struct sockaddr_in6 a;
  socklen_t len = sizeof a;
  char s[INET6_ADDRSTRLEN];
  EXPECT_OK(getsockname(l, (struct sockaddr*)&a, &len));
  CHECK(len == sizeof(struct sockaddr_in6) && is_addr(&a, "::1"), "listener name %s len %u", str6(&a, s), len);

  int c = EXPECT_OK(socket(AF_INET6, SOCK_STREAM, 0));
  struct sockaddr_in6 to = addr6("::1", port);
  EXPECT_OK(connect(c, (struct sockaddr*)&to, sizeof to));
  struct sockaddr_in6 from;
  len = sizeof from;
  int s1 = EXPECT_OK(accept(l, (struct sockaddr*)&from, &len));
  CHECK(len == sizeof from && is_addr(&from, "::1") && ntohs(from.sin6_port) == port_of(c),
        "accept gave %s port %u len %u", str6(&from, s), ntohs(from.sin6_port), len);
  len = sizeof a;
  EXPECT_OK(getpeername(c, (struct sockaddr*)&a, &len));
  CHECK(is_addr(&a, "::1") && ntohs(a.sin6_port) == port, "client's peer %s port %u", str6(&a, s), ntohs(a.sin6_port));
  len = sizeof a;
  EXPECT_OK(getpeername(s1, (struct sockaddr*)&a, &len));
  CHECK(is_addr(&a, "::1") && ntohs(a.sin6_port) == port_of(c), "server's peer %s", str6(&a, s));
  int dom = 0;
  len = sizeof dom;
  EXPECT_OK(getsockopt(s1, SOL_SOCKET, SO_DOMAIN, &dom, &len));
  CHECK(dom == AF_INET6, "an accepted socket's SO_DOMAIN %d", dom);

  printf("abi_inet6: connected\n");
  fflush(stdout);
  pthread_t t;
  pthread_create(&t, NULL, echo, (void*)(intptr_t)s1);
  char* out = malloc(BIG);
  char* in = malloc(BIG);
  for (size_t i = 0; i < BIG; ++i) out[i] = (char)(i * 7 + (i >> 13));
  int fl = fcntl(c, F_GETFL);
  fcntl(c, F_SETFL, fl | O_NONBLOCK);
  size_t sent = 0, got = 0;
  int stalls = 0;
  while (got < BIG && stalls < 100) {
    struct pollfd p = {c, (short)(POLLIN | (sent < BIG ? POLLOUT : 0)), 0};
    if (poll(&p, 1, 10000) != 1) {
      printf("abi_inet6: no progress for 10 s: sent %zu, got %zu\n", sent, got);
      fflush(stdout);
      ++stalls;
      continue;
    }
    if ((p.revents & POLLOUT) && sent < BIG) {
      ssize_t w = write(c, out + sent, BIG - sent > 65536 ? 65536 : BIG - sent);
      if (w > 0) sent += (size_t)w;
    }
    if (p.revents & (POLLIN | POLLHUP)) {
      ssize_t r = read(c, in + got, BIG - got);
      if (r == 0) break;
      if (r > 0) got += (size_t)r;
    }
    if (sent == BIG) shutdown(c, SHUT_WR);
  }
  CHECK(sent == BIG && got == BIG, "sent %zu, echoed back %zu of %u", sent, got, BIG);
  CHECK(memcmp(out, in, got) == 0, "the echoed bytes differ");
  pthread_join(t, NULL);
  free(out);
  free(in);
  close(c);
  close(s1);
  close(l);
}

/* --- dual stack and IPV6_V6ONLY ------------------------------------------------------ */

static void dual_stack(void) {
  char s[INET6_ADDRSTRLEN];
  uint16_t port;
  int l = listener6("::", -1, &port);
  CHECK(v6only(l) == 0, "IPV6_V6ONLY defaults to %d", v6only(l));
  int one = 1;
  EXPECT_ERR(EINVAL, setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));  // bound already

  // An IPv4 client reaches the [::] listener and is seen v4-mapped.
  int c = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  struct sockaddr_in to4 = addr4("127.0.0.1", port);
  EXPECT_OK(connect(c, (struct sockaddr*)&to4, sizeof to4));
  struct sockaddr_in6 from;
  socklen_t len = sizeof from;
  int s1 = EXPECT_OK(accept(l, (struct sockaddr*)&from, &len));
  CHECK(len == sizeof from && is_addr(&from, "::ffff:127.0.0.1"), "accept of an IPv4 client: %s len %u",
        str6(&from, s), len);
  struct sockaddr_in c4;
  len = sizeof c4;
  EXPECT_OK(getsockname(c, (struct sockaddr*)&c4, &len));
  CHECK(ntohs(from.sin6_port) == ntohs(c4.sin_port), "the client's port %u, accept said %u", ntohs(c4.sin_port),
        ntohs(from.sin6_port));
  struct sockaddr_in6 a;
  len = sizeof a;
  EXPECT_OK(getpeername(s1, (struct sockaddr*)&a, &len));
  CHECK(is_addr(&a, "::ffff:127.0.0.1"), "getpeername %s", str6(&a, s));
  len = sizeof a;
  EXPECT_OK(getsockname(s1, (struct sockaddr*)&a, &len));
  CHECK(is_addr(&a, "::ffff:127.0.0.1") && ntohs(a.sin6_port) == port, "getsockname %s port %u", str6(&a, s),
        ntohs(a.sin6_port));
  struct sockaddr_in p4;
  len = sizeof p4;
  EXPECT_OK(getpeername(c, (struct sockaddr*)&p4, &len));
  CHECK(len == sizeof p4 && p4.sin_family == AF_INET && p4.sin_addr.s_addr == htonl(0x7f000001),
        "the IPv4 client's peer family %d len %u", p4.sin_family, len);
  CHECK(write(c, "v4->v6", 6) == 6, "write");
  char buf[16] = {0};
  CHECK(wait_fd(s1, POLLIN) && read(s1, buf, sizeof buf) == 6 && memcmp(buf, "v4->v6", 6) == 0, "read %s", buf);
  CHECK(write(s1, "back", 4) == 4, "write");
  CHECK(wait_fd(c, POLLIN) && read(c, buf, sizeof buf) == 4 && memcmp(buf, "back", 4) == 0, "read back");
  close(c);
  close(s1);

  // 0.0.0.0 of the same port conflicts with the dual-stack [::] listener.
  int b4 = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  struct sockaddr_in any4 = addr4("0.0.0.0", port);
  EXPECT_ERR(EADDRINUSE, bind(b4, (struct sockaddr*)&any4, sizeof any4));
  close(b4);
  close(l);

  // IPV6_V6ONLY: IPv4 is refused, and 0.0.0.0 of the port coexists.
  l = listener6("::", 1, &port);
  CHECK(v6only(l) == 1, "IPV6_V6ONLY reads %d", v6only(l));
  c = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  to4 = addr4("127.0.0.1", port);
  EXPECT_ERR(ECONNREFUSED, connect(c, (struct sockaddr*)&to4, sizeof to4));
  close(c);
  b4 = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  any4 = addr4("0.0.0.0", port);
  EXPECT_OK(bind(b4, (struct sockaddr*)&any4, sizeof any4));
  EXPECT_OK(listen(b4, 4));
  // Now IPv4 goes to the AF_INET listener, IPv6 to the V6ONLY one.
  c = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_OK(connect(c, (struct sockaddr*)&to4, sizeof to4));
  CHECK(wait_fd(b4, POLLIN), "the AF_INET listener has no connection");
  close(c);
  c = EXPECT_OK(socket(AF_INET6, SOCK_STREAM, 0));
  struct sockaddr_in6 to6 = addr6("::1", port);
  EXPECT_OK(connect(c, (struct sockaddr*)&to6, sizeof to6));
  CHECK(wait_fd(l, POLLIN), "the V6ONLY listener has no connection");
  close(c);

  // An AF_INET6 socket connects to a v4-mapped address (the AF_INET
  // listener answers); a V6ONLY one cannot.
  c = EXPECT_OK(socket(AF_INET6, SOCK_STREAM, 0));
  struct sockaddr_in6 mapped = addr6("::ffff:127.0.0.1", port);
  EXPECT_OK(connect(c, (struct sockaddr*)&mapped, sizeof mapped));
  len = sizeof a;
  EXPECT_OK(getsockname(c, (struct sockaddr*)&a, &len));
  CHECK(is_addr(&a, "::ffff:127.0.0.1"), "a v4-mapped connection's name %s", str6(&a, s));
  close(c);
  c = EXPECT_OK(socket(AF_INET6, SOCK_STREAM, 0));
  set_v6only(c, 1);
  EXPECT_ERR(ENETUNREACH, connect(c, (struct sockaddr*)&mapped, sizeof mapped));
  close(c);
  close(b4);
  close(l);
}

/* --- UDP -------------------------------------------------------------------------------- */

static int udp6(const char* ip) {
  int fd = EXPECT_OK(socket(AF_INET6, SOCK_DGRAM, 0));
  struct sockaddr_in6 a = addr6(ip, 0);
  EXPECT_OK(bind(fd, (struct sockaddr*)&a, sizeof a));
  return fd;
}

static void udp(void) {
  char s[INET6_ADDRSTRLEN];
  int a = udp6("::1"), b = udp6("::1");
  struct sockaddr_in6 tb = addr6("::1", port_of(b));
  static char out[65528], in[65529];
  for (size_t i = 0; i < sizeof out; ++i) out[i] = (char)(i * 13);
  // 65527 bytes (IPv6's most: IPv4's is 65507) leave lo (MTU 65536) in
  // two fragments and come back whole.
  static const size_t sizes[] = {0, 1, 1000, 1452, 30000, 60000, 65527};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; ++k) {
    size_t n = sizes[k];
    CHECK(sendto(a, out, n, 0, (struct sockaddr*)&tb, sizeof tb) == (ssize_t)n, "sendto %zu: %s", n, strerror(errno));
    struct sockaddr_in6 from;
    socklen_t len = sizeof from;
    CHECK(wait_fd(b, POLLIN), "no datagram of %zu", n);
    ssize_t r = recvfrom(b, in, sizeof in, 0, (struct sockaddr*)&from, &len);
    CHECK(r == (ssize_t)n && memcmp(in, out, n) == 0, "recvfrom %zd of %zu", r, n);
    CHECK(len == sizeof from && is_addr(&from, "::1") && ntohs(from.sin6_port) == port_of(a),
          "from %s port %u len %u", str6(&from, s), ntohs(from.sin6_port), len);
    // And back with recvmsg.
    CHECK(sendto(b, in, n, 0, (struct sockaddr*)&from, len) == (ssize_t)n, "reply %zu", n);
    struct iovec iov = {in, sizeof in};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    struct sockaddr_in6 f2;
    m.msg_name = &f2;
    m.msg_namelen = sizeof f2;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    CHECK(wait_fd(a, POLLIN), "no reply of %zu", n);
    r = recvmsg(a, &m, 0);
    CHECK(r == (ssize_t)n && m.msg_namelen == sizeof f2 && is_addr(&f2, "::1") && ntohs(f2.sin6_port) == port_of(b),
          "recvmsg %zd from %s namelen %u", r, str6(&f2, s), m.msg_namelen);
  }

  EXPECT_ERR(EMSGSIZE, sendto(a, out, sizeof out, 0, (struct sockaddr*)&tb, sizeof tb));  // 65528
  // A dual-stack UDP socket on [::] takes IPv4 and answers it.
  int d = udp6("::");
  int v4 = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, 0));
  struct sockaddr_in td = addr4("127.0.0.1", port_of(d));
  CHECK(sendto(v4, "ping", 4, 0, (struct sockaddr*)&td, sizeof td) == 4, "sendto: %s", strerror(errno));
  struct sockaddr_in6 from;
  socklen_t len = sizeof from;
  char buf[16];
  CHECK(wait_fd(d, POLLIN), "no IPv4 datagram on [::]");
  CHECK(recvfrom(d, buf, sizeof buf, 0, (struct sockaddr*)&from, &len) == 4 && is_addr(&from, "::ffff:127.0.0.1"),
        "IPv4 sender seen as %s", str6(&from, s));
  CHECK(sendto(d, "pong", 4, 0, (struct sockaddr*)&from, len) == 4, "reply to v4-mapped: %s", strerror(errno));
  struct sockaddr_in f4;
  len = sizeof f4;
  CHECK(wait_fd(v4, POLLIN) && recvfrom(v4, buf, sizeof buf, 0, (struct sockaddr*)&f4, &len) == 4 &&
            f4.sin_family == AF_INET && ntohs(f4.sin_port) == port_of(d),
        "the IPv4 socket's reply");
  // sendto with an AF_INET address from the AF_INET6 socket.
  struct sockaddr_in t4 = addr4("127.0.0.1", port_of(v4));
  CHECK(sendto(d, "four", 4, 0, (struct sockaddr*)&t4, sizeof t4) == 4, "sendto(AF_INET) from AF_INET6: %s",
        strerror(errno));
  CHECK(wait_fd(v4, POLLIN) && recv(v4, buf, sizeof buf, 0) == 4, "the AF_INET destination");
  close(v4);
  close(d);

  // A connected socket sending to a closed port hears ICMPv6 port unreachable.
  int closed = udp6("::1");
  struct sockaddr_in6 tc = addr6("::1", port_of(closed));
  close(closed);
  int e = udp6("::1");
  EXPECT_OK(connect(e, (struct sockaddr*)&tc, sizeof tc));
  CHECK(send(e, "x", 1, 0) == 1, "send");
  struct pollfd p = {e, POLLIN, 0};
  poll(&p, 1, 10000);
  EXPECT_ERR(ECONNREFUSED, recv(e, buf, sizeof buf, MSG_DONTWAIT));
  close(e);
  close(a);
  close(b);
}

/* --- bad input -------------------------------------------------------------------------- */

static void bad_input(void) {
  int t = EXPECT_OK(socket(AF_INET6, SOCK_STREAM, 0));
  struct sockaddr_in6 a = addr6("::1", 0);
  EXPECT_ERR(EINVAL, bind(t, (struct sockaddr*)&a, 23));
  EXPECT_ERR(EINVAL, bind(t, (struct sockaddr*)&a, sizeof(struct sockaddr_in)));
  struct sockaddr_in6 wrong = a;
  wrong.sin6_family = AF_INET;
  EXPECT_ERR(EAFNOSUPPORT, bind(t, (struct sockaddr*)&wrong, sizeof wrong));
  EXPECT_ERR(EAFNOSUPPORT, connect(t, (struct sockaddr*)&wrong, sizeof wrong));
  EXPECT_ERR(EINVAL, connect(t, (struct sockaddr*)&a, 20));
  // An address that is not this host's.
  struct sockaddr_in6 far = addr6("2001:db8::1", 0);
  EXPECT_ERR(EADDRNOTAVAIL, bind(t, (struct sockaddr*)&far, sizeof far));
  // Binding 24 bytes (no sin6_scope_id) is enough.
  EXPECT_OK(bind(t, (struct sockaddr*)&a, 24));
  close(t);
  int u4 = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, 0));
  int one = 1;
  EXPECT_ERR(ENOPROTOOPT, setsockopt(u4, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
  close(u4);
}

/* --- getaddrinfo and /proc/net -------------------------------------------------------- */

static int file_has(const char* path, const char* needle) {
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  char line[512];
  int found = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, needle)) found = 1;
  fclose(f);
  return found;
}

static void names(void) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  int r = getaddrinfo("::1", "8080", &hints, &res);
  CHECK(r == 0 && res && res->ai_family == AF_INET6 && res->ai_addrlen == sizeof(struct sockaddr_in6) &&
            is_addr((struct sockaddr_in6*)res->ai_addr, "::1") &&
            ntohs(((struct sockaddr_in6*)res->ai_addr)->sin6_port) == 8080,
        "getaddrinfo(::1) = %d (%s)", r, r ? gai_strerror(r) : "");
  if (res) freeaddrinfo(res);

  uint16_t port;
  int l = listener6("::1", -1, &port);
  char needle[64];
  // ::1 as four __be32 words printed %08X, the port, LISTEN (0A).
  snprintf(needle, sizeof needle, "00000000000000000000000001000000:%04X 00000000000000000000000000000000:0000 0A",
           port);
  CHECK(file_has("/proc/net/tcp6", needle) == 1, "/proc/net/tcp6 lacks %s", needle);
  char v4needle[32];
  snprintf(v4needle, sizeof v4needle, ":%04X 00000000:0000 0A", port);
  CHECK(file_has("/proc/net/tcp", v4needle) == 0, "/proc/net/tcp lists the AF_INET6 listener");
  int u = udp6("::1");
  snprintf(needle, sizeof needle, "00000000000000000000000001000000:%04X", port_of(u));
  CHECK(file_has("/proc/net/udp6", needle) == 1, "/proc/net/udp6 lacks %s", needle);
  close(u);
  close(l);
}

int main(void) {
  int dom = -1;
  int t = EXPECT_OK(socket(AF_INET6, SOCK_STREAM, 0));
  socklen_t len = sizeof dom;
  EXPECT_OK(getsockopt(t, SOL_SOCKET, SO_DOMAIN, &dom, &len));
  CHECK(dom == AF_INET6, "SO_DOMAIN %d", dom);
  close(t);
  bad_input();
  tcp_echo();
  printf("abi_inet6: tcp over [::1] done\n");
  fflush(stdout);
  dual_stack();
  printf("abi_inet6: dual stack done\n");
  fflush(stdout);
  udp();
  printf("abi_inet6: udp done\n");
  fflush(stdout);
  names();
  return finish("abi_inet6");
}
