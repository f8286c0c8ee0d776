/* Ping sockets and raw ICMP sockets (net/inet/icmp_socket.cc, docs/net.md
 * "Ping and raw sockets"), in the VM and on the host, over 127.0.0.1 and
 * ::1:
 * - socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and (AF_INET6, SOCK_DGRAM,
 *   IPPROTO_ICMPV6): SO_TYPE/SO_PROTOCOL; getsockname's port is the
 *   identifier (bind's, or one chosen at the first send); an echo request
 *   comes back as an echo reply whose identifier is the socket's (whatever
 *   the program wrote), sequence number and payload echoed, the IPv4
 *   checksum the kernel's and valid, from the address sent to with port
 *   0; IP_RECVTTL / IPV6_RECVHOPLIMIT give a TTL control message; a
 *   connected socket sends without an address; a second socket may bind
 *   an identifier in use, as on Linux;
 * - bad input as Linux: a message shorter than 8 bytes, a type other than
 *   echo request or a code other than 0 EINVAL, a short sockaddr EINVAL,
 *   another family EAFNOSUPPORT, no address unconnected EDESTADDRREQ, more
 *   than 65535 bytes EMSGSIZE; ICMP on AF_INET6 or ICMPv6 on AF_INET,
 *   SOCK_RAW with protocol 0, SOCK_STREAM with ICMP: EPROTONOSUPPORT;
 * - SOCK_RAW (root): an IPv4 raw socket reads every ICMP message with its
 *   IP header (our own echo request to 127.0.0.1, then the reply), its
 *   port is the protocol; ICMP_FILTER blocks types and reads back; an
 *   ICMPv6 raw socket gets the kernel's checksum and reads the message
 *   alone, ICMP6_FILTER passes only what it lets through, IPV6_CHECKSUM
 *   at SOL_RAW reads 2 (odd: EINVAL; at SOL_IPV6: EINVAL); a raw socket
 *   made by a non-root user: EPERM, while a ping socket is fine.
 * Linux allows ping sockets only to the groups of
 * net.ipv4.ping_group_range, "1 0" (nobody) by default; systemd sets
 * "0 2147483647", as Capsule starts. Where the host says EACCES, the
 * program moves to a network namespace of its own with that range (and lo
 * up). There (or in the VM, never in the host's own namespace) the sysctl
 * is exercised: "1 0" makes ping sockets EACCES (raw ones still work for
 * root), a high below the low reads back as "1\t0", values past 2^31 - 1
 * and words are EINVAL, "0 0" refuses a process of group 65534.
 * Waits are bounded (SO_RCVTIMEO 5 s). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <grp.h>
#include <sys/wait.h>

#include "check.h"

/* include/uapi/linux/icmp.h (not includable beside net/if.h). */
#ifndef ICMP_FILTER
#define ICMP_FILTER 1
struct icmp_filter {
  uint32_t data;
};
#endif
#ifndef SOL_RAW
#define SOL_RAW 255
#endif

static struct sockaddr_in lo4(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static struct sockaddr_in6 lo6(void) {
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  return a;
}

static void timeout5(int fd) {
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static uint16_t sum16(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t)(p[n - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

/* An echo request: type, id, seq, 56 bytes of payload. */
static size_t echo(uint8_t* m, uint8_t type, uint16_t id, uint16_t seq) {
  memset(m, 0, 64);
  m[0] = type;
  m[4] = (uint8_t)(id >> 8), m[5] = (uint8_t)id;
  m[6] = (uint8_t)(seq >> 8), m[7] = (uint8_t)seq;
  for (int i = 8; i < 64; ++i) m[i] = (uint8_t)(i * 7 + seq);
  return 64;
}

static uint16_t port_of(int fd) {
  struct sockaddr_in6 a;
  socklen_t len = sizeof a;
  memset(&a, 0, sizeof a);
  if (getsockname(fd, (struct sockaddr*)&a, &len) != 0) return 0;
  return ntohs(a.sin6_port);  /* sin_port and sin6_port are at the same offset */
}

static int opt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  getsockopt(fd, level, name, &v, &len);
  return v;
}

static int g_own_sysctls;  /* in the VM, or in a namespace of our own: the sysctl may change */

/* On a host that allows ping sockets to no group: a namespace that does. */
static void allow_ping_sockets(void) {
  char rel[128] = "";
  int r = open("/proc/sys/kernel/osrelease", O_RDONLY);
  if (r >= 0) {
    (void)!read(r, rel, sizeof rel - 1);
    close(r);
  }
  g_own_sysctls = strstr(rel, "capsule") != NULL;
  int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  if (s >= 0) {
    close(s);
    return;
  }
  if (errno != EACCES || unshare(CLONE_NEWNET) != 0) return;
  g_own_sysctls = 1;
  int fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY);
  if (fd >= 0) {
    (void)!write(fd, "0 2147483647", 12);
    close(fd);
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  if (ioctl(u, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP;
    ioctl(u, SIOCSIFFLAGS, &ifr);
  }
  close(u);
}

static void ping4(void) {
  int s = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP));
  timeout5(s);
  CHECK(opt(s, SOL_SOCKET, SO_TYPE) == SOCK_DGRAM, "SO_TYPE %d", opt(s, SOL_SOCKET, SO_TYPE));
  CHECK(opt(s, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_ICMP, "SO_PROTOCOL %d", opt(s, SOL_SOCKET, SO_PROTOCOL));
  CHECK(port_of(s) == 0, "unbound: port %u", port_of(s));
  struct sockaddr_in to = lo4();
  EXPECT_OK(bind(s, (struct sockaddr*)&to, sizeof to));
  const uint16_t ident = port_of(s);
  CHECK(ident != 0, "bound: identifier 0");
  int on = 1;
  EXPECT_OK(setsockopt(s, SOL_IP, IP_RECVTTL, &on, sizeof on));
  for (uint16_t seq = 1; seq <= 3; ++seq) {
    uint8_t m[64], r[128];
    size_t n = echo(m, ICMP_ECHO, 0x1234, seq);
    CHECK(sendto(s, m, n, 0, (struct sockaddr*)&to, sizeof to) == 64, "sendto: %s", strerror(errno));
    struct sockaddr_in from;
    memset(&from, 0xee, sizeof from);
    char cbuf[128];
    struct iovec iov = {r, sizeof r};
    struct msghdr h = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t got = recvmsg(s, &h, 0);
    CHECK(got == 64, "recvmsg %zd: %s", got, strerror(errno));
    if (got != 64) continue;
    CHECK(r[0] == ICMP_ECHOREPLY && r[1] == 0, "type %u code %u", r[0], r[1]);
    CHECK((r[4] << 8 | r[5]) == ident, "reply id %u, socket's %u", r[4] << 8 | r[5], ident);
    CHECK((r[6] << 8 | r[7]) == seq, "reply seq %u, sent %u", r[6] << 8 | r[7], seq);
    CHECK(memcmp(r + 8, m + 8, 56) == 0, "payload differs");
    CHECK(sum16(r, 64) == 0, "reply checksum does not verify");
    CHECK(h.msg_namelen == sizeof from && from.sin_family == AF_INET && from.sin_port == 0 &&
              from.sin_addr.s_addr == htonl(INADDR_LOOPBACK), "from: len %u family %u port %u", h.msg_namelen,
          from.sin_family, ntohs(from.sin_port));
    struct cmsghdr* c = CMSG_FIRSTHDR(&h);
    int ttl = -1;
    for (; c; c = CMSG_NXTHDR(&h, c))
      if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL) memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
    CHECK(ttl == 64, "IP_TTL control message %d", ttl);
  }
  /* Bad input. */
  uint8_t m[70000];
  echo(m, ICMP_ECHO, 1, 1);
  EXPECT_ERR(EINVAL, sendto(s, m, 7, 0, (struct sockaddr*)&to, sizeof to));
  m[0] = ICMP_TIMESTAMP;
  EXPECT_ERR(EINVAL, sendto(s, m, 64, 0, (struct sockaddr*)&to, sizeof to));
  m[0] = ICMP_ECHO, m[1] = 1;
  EXPECT_ERR(EINVAL, sendto(s, m, 64, 0, (struct sockaddr*)&to, sizeof to));
  m[1] = 0;
  EXPECT_ERR(EMSGSIZE, sendto(s, m, 65536, 0, (struct sockaddr*)&to, sizeof to));
  EXPECT_ERR(EINVAL, sendto(s, m, 64, 0, (struct sockaddr*)&to, sizeof to - 1));
  struct sockaddr_in6 six = lo6();
  EXPECT_ERR(EAFNOSUPPORT, sendto(s, m, 64, 0, (struct sockaddr*)&six, sizeof six));
  EXPECT_ERR(EDESTADDRREQ, send(s, m, 64, 0));
  /* Linux lets a second socket bind an identifier in use (ping_get_port
     compares it with inet_num, which bind has not set yet). */
  int t = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP));
  struct sockaddr_in same = lo4();
  same.sin_port = htons(ident);
  EXPECT_OK(bind(t, (struct sockaddr*)&same, sizeof same));
  CHECK(port_of(t) == ident, "bound to %u: port %u", ident, port_of(t));
  close(t);
  close(s);
  /* Connected: send() without an address; the identifier chosen at connect. */
  int u = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP));
  EXPECT_OK(connect(u, (struct sockaddr*)&to, sizeof to));
  timeout5(u);
  const uint16_t uid = port_of(u);
  CHECK(uid != 0, "connected socket's identifier 0");
  size_t n = echo(m, ICMP_ECHO, 0, 9);
  CHECK(send(u, m, n, 0) == 64, "send: %s", strerror(errno));
  uint8_t r[128];
  CHECK(recv(u, r, sizeof r, 0) == 64 && r[0] == ICMP_ECHOREPLY && (r[4] << 8 | r[5]) == uid &&
            (r[6] << 8 | r[7]) == 9, "connected reply");
  close(u);
}

static void ping6(void) {
  int s = EXPECT_OK(socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6));
  timeout5(s);
  CHECK(opt(s, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_ICMPV6, "SO_PROTOCOL %d", opt(s, SOL_SOCKET, SO_PROTOCOL));
  int on = 1;
  EXPECT_OK(setsockopt(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on));
  struct sockaddr_in6 to = lo6();
  for (uint16_t seq = 1; seq <= 3; ++seq) {
    uint8_t m[64], r[128];
    size_t n = echo(m, ICMP6_ECHO_REQUEST, 0x4321, seq);
    CHECK(sendto(s, m, n, 0, (struct sockaddr*)&to, sizeof to) == 64, "sendto: %s", strerror(errno));
    const uint16_t ident = port_of(s);
    CHECK(ident != 0, "identifier after the first send: 0");
    struct sockaddr_in6 from;
    char cbuf[128];
    struct iovec iov = {r, sizeof r};
    struct msghdr h = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t got = recvmsg(s, &h, 0);
    CHECK(got == 64, "recvmsg %zd: %s", got, strerror(errno));
    if (got != 64) continue;
    CHECK(r[0] == ICMP6_ECHO_REPLY && r[1] == 0, "type %u code %u", r[0], r[1]);
    CHECK((r[4] << 8 | r[5]) == ident, "reply id %u, socket's %u", r[4] << 8 | r[5], ident);
    CHECK((r[6] << 8 | r[7]) == seq, "reply seq %u", r[6] << 8 | r[7]);
    CHECK(memcmp(r + 8, m + 8, 56) == 0, "payload differs");
    CHECK(h.msg_namelen == sizeof from && from.sin6_family == AF_INET6 && from.sin6_port == 0 &&
              IN6_IS_ADDR_LOOPBACK(&from.sin6_addr), "from: len %u port %u", h.msg_namelen, ntohs(from.sin6_port));
    int hops = -1;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) memcpy(&hops, CMSG_DATA(c), sizeof hops);
    CHECK(hops == 64, "IPV6_HOPLIMIT control message %d", hops);
  }
  uint8_t m[64];
  echo(m, ICMP_ECHO, 1, 1);  /* IPv4's echo type on an ICMPv6 socket */
  EXPECT_ERR(EINVAL, sendto(s, m, 64, 0, (struct sockaddr*)&to, sizeof to));
  echo(m, ICMP6_ECHO_REQUEST, 1, 1);
  EXPECT_ERR(EINVAL, sendto(s, m, 64, 0, (struct sockaddr*)&to, 24));  /* ping wants all 28 bytes */
  struct sockaddr_in four = lo4();
  EXPECT_ERR(EAFNOSUPPORT, sendto(s, m, 64, 0, (struct sockaddr*)&four, sizeof to));
  close(s);
}

static void protocols(void) {
  EXPECT_ERR(EPROTONOSUPPORT, socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMPV6));
  EXPECT_ERR(EPROTONOSUPPORT, socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMP));
  EXPECT_ERR(EPROTONOSUPPORT, socket(AF_INET, SOCK_RAW, 0));
  EXPECT_ERR(EPROTONOSUPPORT, socket(AF_INET, SOCK_STREAM, IPPROTO_ICMP));
}

static void raw4(void) {
  int s = EXPECT_OK(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
  timeout5(s);
  CHECK(opt(s, SOL_SOCKET, SO_TYPE) == SOCK_RAW, "SO_TYPE %d", opt(s, SOL_SOCKET, SO_TYPE));
  CHECK(port_of(s) == IPPROTO_ICMP, "a raw socket's port %u", port_of(s));
  struct sockaddr_in to = lo4();
  uint8_t m[64], r[256];
  size_t n = echo(m, ICMP_ECHO, 0x5151, 1);
  uint16_t c = sum16(m, n);  /* the program's checksum: raw IPv4 leaves it alone */
  m[2] = (uint8_t)(c >> 8), m[3] = (uint8_t)c;
  CHECK(sendto(s, m, n, 0, (struct sockaddr*)&to, sizeof to) == 64, "sendto: %s", strerror(errno));
  /* Every ICMP message of 127.0.0.1, IP header first: our request, then the reply. */
  int seen_request = 0, seen_reply = 0;
  for (int i = 0; i < 2; ++i) {
    ssize_t got = recv(s, r, sizeof r, 0);
    CHECK(got == 84, "recv %zd: %s", got, strerror(errno));
    if (got != 84) break;
    CHECK(r[0] == 0x45 && r[9] == IPPROTO_ICMP, "IP header %02x proto %u", r[0], r[9]);
    CHECK((r[24] << 8 | r[25]) == 0x5151 && memcmp(r + 28, m + 8, 56) == 0, "id or payload");
    if (r[20] == ICMP_ECHO) seen_request = 1;
    if (r[20] == ICMP_ECHOREPLY) seen_reply = 1;
  }
  CHECK(seen_request && seen_reply, "request %d reply %d", seen_request, seen_reply);
  /* ICMP_FILTER: block echo requests; only the reply comes. */
  struct icmp_filter f = {1u << ICMP_ECHO}, g = {0};
  EXPECT_OK(setsockopt(s, SOL_RAW, ICMP_FILTER, &f, sizeof f));
  socklen_t len = sizeof g;
  EXPECT_OK(getsockopt(s, SOL_RAW, ICMP_FILTER, &g, &len));
  CHECK(len == sizeof g && g.data == f.data, "ICMP_FILTER reads %x (%u bytes)", g.data, len);
  m[6] = 0, m[7] = 2, m[2] = m[3] = 0;
  c = sum16(m, n);
  m[2] = (uint8_t)(c >> 8), m[3] = (uint8_t)c;
  CHECK(sendto(s, m, n, 0, (struct sockaddr*)&to, sizeof to) == 64, "sendto: %s", strerror(errno));
  CHECK(recv(s, r, sizeof r, 0) == 84 && r[20] == ICMP_ECHOREPLY && r[27] == 2, "filtered: type %u", r[20]);
  CHECK(recv(s, r, sizeof r, MSG_DONTWAIT) == -1 && errno == EAGAIN, "a blocked request came through");
  close(s);
}

static void raw6(void) {
  int s = EXPECT_OK(socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
  timeout5(s);
  struct icmp6_filter f;
  ICMP6_FILTER_SETBLOCKALL(&f);
  ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
  EXPECT_OK(setsockopt(s, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f));
  struct icmp6_filter g;
  socklen_t len = sizeof g;
  EXPECT_OK(getsockopt(s, IPPROTO_ICMPV6, ICMP6_FILTER, &g, &len));
  CHECK(len == sizeof g && memcmp(&f, &g, sizeof f) == 0, "ICMP6_FILTER reads back (%u bytes)", len);
  struct sockaddr_in6 to = lo6();
  uint8_t m[64], r[256];
  size_t n = echo(m, ICMP6_ECHO_REQUEST, 0x6161, 5);  /* checksum 0: the kernel's */
  CHECK(sendto(s, m, n, 0, (struct sockaddr*)&to, sizeof to) == 64, "sendto: %s", strerror(errno));
  ssize_t got = recv(s, r, sizeof r, 0);
  CHECK(got == 64 && r[0] == ICMP6_ECHO_REPLY && (r[4] << 8 | r[5]) == 0x6161 && r[7] == 5 &&
            memcmp(r + 8, m + 8, 56) == 0, "reply: %zd bytes type %u", got, r[0]);
  CHECK(recv(s, r, sizeof r, MSG_DONTWAIT) == -1 && errno == EAGAIN, "a blocked type came through");
  EXPECT_ERR(EINVAL, sendto(s, m, 3, 0, (struct sockaddr*)&to, sizeof to));  /* shorter than the checksum */
  /* IPV6_CHECKSUM at SOL_RAW (RFC 3542 3.1): ICMPv6's offset 2; odd EINVAL; not at SOL_IPV6 (EINVAL). */
  CHECK(opt(s, SOL_RAW, IPV6_CHECKSUM) == 2, "IPV6_CHECKSUM reads %d", opt(s, SOL_RAW, IPV6_CHECKSUM));
  int two = 2, three = 3;
  EXPECT_OK(setsockopt(s, SOL_RAW, IPV6_CHECKSUM, &two, sizeof two));
  EXPECT_ERR(EINVAL, setsockopt(s, SOL_RAW, IPV6_CHECKSUM, &three, sizeof three));
  EXPECT_ERR(EINVAL, setsockopt(s, IPPROTO_IPV6, IPV6_CHECKSUM, &two, sizeof two));
  close(s);
}

static int write_range(const char* text) {
  int fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY);
  if (fd < 0) return -1;
  int r = (int)write(fd, text, strlen(text));
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

static void read_range(char* out, size_t n) {
  memset(out, 0, n);
  int fd = open("/proc/sys/net/ipv4/ping_group_range", O_RDONLY);
  if (fd >= 0) {
    (void)!read(fd, out, n - 1);
    close(fd);
  }
}

/* net.ipv4.ping_group_range: "1 0" lets nobody open a ping socket (EACCES),
   a high below the low is that empty range, values past 2^31 - 1 EINVAL. */
static void group_range(void) {
  if (!g_own_sysctls) {
    printf("ping_group_range: not changed (the host's own)\n");
    return;
  }
  char text[64];
  CHECK(write_range("1 0\n") == 4, "write '1 0': %s", strerror(errno));
  read_range(text, sizeof text);
  CHECK(strcmp(text, "1\t0\n") == 0, "reads '%s'", text);
  EXPECT_ERR(EACCES, socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP));
  EXPECT_ERR(EACCES, socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6));
  int raw = EXPECT_OK(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));  /* root's raw sockets do not care */
  close(raw);
  CHECK(write_range("7 3") == 3, "write '7 3': %s", strerror(errno));
  read_range(text, sizeof text);
  CHECK(strcmp(text, "1\t0\n") == 0, "'7 3' reads '%s'", text);
  EXPECT_ERR(EINVAL, write_range("0 4294967295"));
  EXPECT_ERR(EINVAL, write_range("zero"));
  CHECK(write_range("0 0") == 3, "write '0 0': %s", strerror(errno));  /* root's group only */
  int s = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP));
  close(s);
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setgroups(0, NULL) != 0) _exit(3);
    _exit(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) < 0 && errno == EACCES ? 0 : 1);
  }
  int st = -1;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "group 65534 outside '0 0': status %x", st);
  CHECK(write_range("0 2147483647") == 12, "restore: %s", strerror(errno));
}

static void unprivileged(void) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(3);
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (raw >= 0 || errno != EPERM) _exit(1);
    int ping = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    _exit(ping >= 0 ? 0 : 2);
  }
  int st = -1;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "as nobody: status %x (1: raw not EPERM, 2: no ping socket)", st);
}

int main(void) {
  allow_ping_sockets();
  protocols();
  ping4();
  ping6();
  raw4();
  raw6();
  unprivileged();
  group_range();
  return finish("abi_ping");
}
