/* abi-test: NET user */
/* AF_NETLINK, NETLINK_ROUTE (linux/netlink_socket.cc, linux/netlink_route.cc;
 * docs/net.md "Netlink"). Runs in the VM and on the host: every check holds
 * on both, because the netlink answers are compared with what the same
 * system says through other doors — if_nameindex(), getifaddrs(), the
 * SIOCGIF* ioctls and /proc/net/route — rather than with fixed values.
 * Also: port ids (autobind to the pid, then others; EADDRINUSE), acks and
 * errors (ENODEV echoing the request), MSG_PEEK|MSG_TRUNC sizing, poll, and
 * what bad input gets (EFAULT, EINVAL, ESOCKTNOSUPPORT, EPROTONOSUPPORT,
 * ECONNREFUSED, a truncated message ignored). */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "check.h"

#if __has_include(<linux/rtnetlink.h>)
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#else
/* musl-gcc sees no kernel headers: the few netlink(7)/rtnetlink(7)
 * definitions this program uses, from the manual pages' ABI. */
#define NETLINK_ROUTE 0
#define NETLINK_EXT_ACK 11
#define SOL_NETLINK 270
struct sockaddr_nl {
  unsigned short nl_family, nl_pad;
  unsigned nl_pid, nl_groups;
};
struct nlmsghdr {
  uint32_t nlmsg_len;
  uint16_t nlmsg_type, nlmsg_flags;
  uint32_t nlmsg_seq, nlmsg_pid;
};
struct nlmsgerr {
  int error;
  struct nlmsghdr msg;
};
struct rtgenmsg {
  unsigned char rtgen_family;
};
struct ifinfomsg {
  unsigned char ifi_family, __ifi_pad;
  unsigned short ifi_type;
  int ifi_index;
  unsigned ifi_flags, ifi_change;
};
struct ifaddrmsg {
  uint8_t ifa_family, ifa_prefixlen, ifa_flags, ifa_scope;
  uint32_t ifa_index;
};
struct rtmsg {
  unsigned char rtm_family, rtm_dst_len, rtm_src_len, rtm_tos, rtm_table, rtm_protocol, rtm_scope, rtm_type;
  unsigned rtm_flags;
};
struct rtattr {
  unsigned short rta_len, rta_type;
};
#define NLMSG_NOOP 1
#define NLMSG_ERROR 2
#define NLMSG_DONE 3
#define NLM_F_REQUEST 1
#define NLM_F_MULTI 2
#define NLM_F_ACK 4
#define NLM_F_DUMP 0x300
#define NLMSG_ALIGN(len) (((len) + 3) & ~3u)
#define NLMSG_HDRLEN ((int)NLMSG_ALIGN(sizeof(struct nlmsghdr)))
#define NLMSG_LENGTH(len) ((len) + NLMSG_HDRLEN)
#define NLMSG_DATA(nlh) ((void*)((char*)(nlh) + NLMSG_HDRLEN))
#define NLMSG_NEXT(nlh, len) \
  ((len) -= NLMSG_ALIGN((nlh)->nlmsg_len), (struct nlmsghdr*)((char*)(nlh) + NLMSG_ALIGN((nlh)->nlmsg_len)))
#define NLMSG_OK(nlh, len) \
  ((len) >= (int)sizeof(struct nlmsghdr) && (nlh)->nlmsg_len >= sizeof(struct nlmsghdr) && (nlh)->nlmsg_len <= (len))
#define NLMSG_PAYLOAD(nlh, len) ((nlh)->nlmsg_len - NLMSG_SPACE((len)))
#define NLMSG_SPACE(len) NLMSG_ALIGN(NLMSG_LENGTH(len))
#define RTA_ALIGN(len) (((len) + 3) & ~3u)
#define RTA_OK(rta, len) ((len) >= (int)sizeof(struct rtattr) && (rta)->rta_len >= sizeof(struct rtattr) && (rta)->rta_len <= (len))
#define RTA_NEXT(rta, len) ((len) -= RTA_ALIGN((rta)->rta_len), (struct rtattr*)((char*)(rta) + RTA_ALIGN((rta)->rta_len)))
#define RTA_LENGTH(len) (RTA_ALIGN(sizeof(struct rtattr)) + (len))
#define RTA_DATA(rta) ((void*)((char*)(rta) + RTA_LENGTH(0)))
#define RTA_PAYLOAD(rta) ((int)((rta)->rta_len) - RTA_LENGTH(0))
#define IFLA_RTA(r) ((struct rtattr*)((char*)(r) + NLMSG_ALIGN(sizeof(struct ifinfomsg))))
#define IFLA_PAYLOAD(n) NLMSG_PAYLOAD(n, sizeof(struct ifinfomsg))
#define IFA_RTA(r) ((struct rtattr*)((char*)(r) + NLMSG_ALIGN(sizeof(struct ifaddrmsg))))
#define IFA_PAYLOAD(n) NLMSG_PAYLOAD(n, sizeof(struct ifaddrmsg))
#define RTM_RTA(r) ((struct rtattr*)((char*)(r) + NLMSG_ALIGN(sizeof(struct rtmsg))))
#define RTM_PAYLOAD(n) NLMSG_PAYLOAD(n, sizeof(struct rtmsg))
#define RTM_NEWLINK 16
#define RTM_GETLINK 18
#define RTM_GETADDR 22
#define RTM_GETROUTE 26
#define IFLA_ADDRESS 1
#define IFLA_IFNAME 3
#define IFLA_MTU 4
#define IFA_LOCAL 2
#define IFA_LABEL 3
#define RTA_DST 1
#define RTA_OIF 4
#define RTA_GATEWAY 5
#define RTA_TABLE 15
#define RT_TABLE_MAIN 254
#define RT_TABLE_LOCAL 255
#define RTN_UNICAST 1
#define RTN_LOCAL 2
#endif

#define MAX_LINKS 32
#define MAX_ROUTES 64

struct link {
  int index;
  char name[IF_NAMESIZE];
  unsigned flags, mtu;
  unsigned char hw[32];
  int hwlen;
};
struct addr {
  int index, prefix;
  uint32_t local;
  char label[IF_NAMESIZE];
};
struct route {
  int table, type, dst_len, oif;
  uint32_t dst, gw;
};

static struct link links[MAX_LINKS];
static int nlinks;
static struct addr addrs[MAX_LINKS];
static int naddrs;
static struct route routes[MAX_ROUTES];
static int nroutes;
static unsigned my_port;
static unsigned seq = 1000;
static char buf[65536];

static int open_route(void) { return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE); }

static int send_req(int fd, int type, int flags, const void* payload, size_t len) {
  struct {
    struct nlmsghdr h;
    char p[256];
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(len);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | flags;
  req.h.nlmsg_seq = ++seq;
  memcpy(req.p, payload, len);
  struct sockaddr_nl k = {.nl_family = AF_NETLINK};
  return sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr*)&k, sizeof k);
}

static void parse_link(struct nlmsghdr* h) {
  struct ifinfomsg* ifi = NLMSG_DATA(h);
  if (nlinks == MAX_LINKS) return;
  struct link* l = &links[nlinks++];
  memset(l, 0, sizeof *l);
  l->index = ifi->ifi_index;
  l->flags = ifi->ifi_flags;
  int len = IFLA_PAYLOAD(h);
  for (struct rtattr* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFLA_IFNAME) snprintf(l->name, sizeof l->name, "%s", (char*)RTA_DATA(a));
    if (a->rta_type == IFLA_MTU) memcpy(&l->mtu, RTA_DATA(a), 4);
    if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) <= sizeof l->hw) {
      l->hwlen = RTA_PAYLOAD(a);
      memcpy(l->hw, RTA_DATA(a), l->hwlen);
    }
  }
}

static void parse_addr(struct nlmsghdr* h) {
  struct ifaddrmsg* ifa = NLMSG_DATA(h);
  if (ifa->ifa_family != AF_INET || naddrs == MAX_LINKS) return;
  struct addr* x = &addrs[naddrs++];
  memset(x, 0, sizeof *x);
  x->index = ifa->ifa_index;
  x->prefix = ifa->ifa_prefixlen;
  int len = IFA_PAYLOAD(h);
  for (struct rtattr* a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFA_LOCAL) memcpy(&x->local, RTA_DATA(a), 4);
    if (a->rta_type == IFA_LABEL) snprintf(x->label, sizeof x->label, "%s", (char*)RTA_DATA(a));
  }
}

static void parse_route(struct nlmsghdr* h) {
  struct rtmsg* rt = NLMSG_DATA(h);
  if (rt->rtm_family != AF_INET || nroutes == MAX_ROUTES) return;
  struct route* r = &routes[nroutes++];
  memset(r, 0, sizeof *r);
  r->table = rt->rtm_table;
  r->type = rt->rtm_type;
  r->dst_len = rt->rtm_dst_len;
  int len = RTM_PAYLOAD(h);
  for (struct rtattr* a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == RTA_TABLE) memcpy(&r->table, RTA_DATA(a), 4);
    if (a->rta_type == RTA_DST) memcpy(&r->dst, RTA_DATA(a), 4);
    if (a->rta_type == RTA_GATEWAY) memcpy(&r->gw, RTA_DATA(a), 4);
    if (a->rta_type == RTA_OIF) memcpy(&r->oif, RTA_DATA(a), 4);
  }
}

/* A whole dump: every part from the kernel (port 0), with our seq and port
 * id, flagged NLM_F_MULTI, up to NLMSG_DONE. Returns the number of parts. */
static int dump(int fd, int type, void (*each)(struct nlmsghdr*)) {
  struct rtgenmsg g = {.rtgen_family = AF_UNSPEC};
  if (type == RTM_GETADDR || type == RTM_GETROUTE) g.rtgen_family = AF_INET;
  CHECK(send_req(fd, type, NLM_F_DUMP, &g, sizeof g) > 0, "dump request %d: %s", type, strerror(errno));
  int parts = 0;
  for (int datagrams = 0; datagrams < 1000; ++datagrams) {
    struct sockaddr_nl from;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(fd, &m, 0);
    CHECK(n > 0, "recvmsg: %s", strerror(errno));
    if (n <= 0) return -1;
    CHECK(!(m.msg_flags & MSG_TRUNC), "a dump datagram was cut");
    CHECK(m.msg_namelen == sizeof from && from.nl_family == AF_NETLINK && from.nl_pid == 0,
          "sender: len %u family %d pid %u", m.msg_namelen, from.nl_family, from.nl_pid);
    for (struct nlmsghdr* h = (void*)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      CHECK(h->nlmsg_seq == seq && h->nlmsg_pid == my_port, "part seq %u pid %u, want %u %u", h->nlmsg_seq,
            h->nlmsg_pid, seq, my_port);
      CHECK(h->nlmsg_flags & NLM_F_MULTI, "part without NLM_F_MULTI");
      if (h->nlmsg_type == NLMSG_DONE) return parts;
      if (h->nlmsg_type == NLMSG_ERROR) {
        CHECK(0, "dump %d answered with an error %d", type, ((struct nlmsgerr*)NLMSG_DATA(h))->error);
        return -1;
      }
      ++parts;
      each(h);
    }
  }
  CHECK(0, "no NLMSG_DONE");
  return -1;
}

/* One answer datagram (non-blocking: the kernel answers at once). */
static ssize_t answer(int fd) { return recv(fd, buf, sizeof buf, MSG_DONTWAIT); }

static int ifreq_ioctl(int s, unsigned long cmd, const char* name, struct ifreq* r) {
  memset(r, 0, sizeof *r);
  snprintf(r->ifr_name, IFNAMSIZ, "%s", name);
  return ioctl(s, cmd, r);
}

static const struct link* link_by_index(int index) {
  for (int i = 0; i < nlinks; ++i)
    if (links[i].index == index) return &links[i];
  return NULL;
}

static void check_links(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct if_nameindex* ni = if_nameindex();
  CHECK(ni != NULL, "if_nameindex: %s", strerror(errno));
  int n = 0;
  for (struct if_nameindex* p = ni; p && p->if_index; ++p, ++n) {
    const struct link* l = link_by_index(p->if_index);
    CHECK(l && strcmp(l->name, p->if_name) == 0, "if_nameindex %u %s not in the dump", p->if_index, p->if_name);
  }
  CHECK(n == nlinks, "if_nameindex has %d interfaces, the dump %d", n, nlinks);
  if (ni) if_freenameindex(ni);
  for (int i = 0; i < nlinks; ++i) {
    const struct link* l = &links[i];
    struct ifreq r;
    CHECK(ifreq_ioctl(s, SIOCGIFINDEX, l->name, &r) == 0 && r.ifr_ifindex == l->index, "%s: SIOCGIFINDEX %d want %d",
          l->name, r.ifr_ifindex, l->index);
    CHECK(ifreq_ioctl(s, SIOCGIFFLAGS, l->name, &r) == 0 && (unsigned short)r.ifr_flags == (l->flags & 0xffff),
          "%s: SIOCGIFFLAGS %#x, netlink %#x", l->name, (unsigned short)r.ifr_flags, l->flags);
    CHECK(ifreq_ioctl(s, SIOCGIFMTU, l->name, &r) == 0 && (unsigned)r.ifr_mtu == l->mtu, "%s: SIOCGIFMTU %d, netlink %u",
          l->name, r.ifr_mtu, l->mtu);
    if (!(l->flags & IFF_LOOPBACK) && l->hwlen == 6) {
      CHECK(ifreq_ioctl(s, SIOCGIFHWADDR, l->name, &r) == 0 && memcmp(r.ifr_hwaddr.sa_data, l->hw, 6) == 0,
            "%s: SIOCGIFHWADDR differs from IFLA_ADDRESS", l->name);
    }
  }
  close(s);
}

static void check_addrs(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifaddrs* all;
  CHECK(getifaddrs(&all) == 0, "getifaddrs: %s", strerror(errno));
  int n4 = 0;
  for (struct ifaddrs* p = all; p; p = p->ifa_next) {
    if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET) continue;
    ++n4;
    uint32_t a = ((struct sockaddr_in*)p->ifa_addr)->sin_addr.s_addr;
    uint32_t mask = ((struct sockaddr_in*)p->ifa_netmask)->sin_addr.s_addr;
    int found = 0;
    for (int i = 0; i < naddrs; ++i) {
      const struct link* l = link_by_index(addrs[i].index);
      uint32_t m = addrs[i].prefix ? htonl(~0u << (32 - addrs[i].prefix)) : 0;
      if (addrs[i].local == a && m == mask && l && strcmp(l->name, p->ifa_name) == 0) found = 1;
    }
    CHECK(found, "getifaddrs %s %s not in the RTM_GETADDR dump", p->ifa_name, inet_ntoa(*(struct in_addr*)&a));
  }
  CHECK(n4 == naddrs, "getifaddrs has %d IPv4 addresses, the dump %d", n4, naddrs);
  if (n4 >= 0) freeifaddrs(all);
  for (int i = 0; i < naddrs; ++i) {
    const struct link* l = link_by_index(addrs[i].index);
    CHECK(l != NULL, "address on interface %d, which the link dump lacks", addrs[i].index);
    if (!l) continue;
    CHECK(strncmp(addrs[i].label, l->name, strlen(l->name)) == 0, "label %s on %s", addrs[i].label, l->name);
    struct ifreq r;
    if (strcmp(addrs[i].label, l->name) == 0) {
      CHECK(ifreq_ioctl(s, SIOCGIFADDR, l->name, &r) == 0 &&
                ((struct sockaddr_in*)&r.ifr_addr)->sin_addr.s_addr == addrs[i].local,
            "%s: SIOCGIFADDR differs", l->name);
    }
  }
  close(s);
}

/* /proc/net/route is Linux's main table, IPv4: each line is in the dump,
 * and each unicast route of the main table is a line. */
static void check_routes(void) {
  FILE* f = fopen("/proc/net/route", "r");
  CHECK(f != NULL, "/proc/net/route: %s", strerror(errno));
  if (!f) return;
  char line[512], ifn[32];
  unsigned dst, gw, flags, refcnt, use, metric, mask;
  int lines = 0;
  fgets(line, sizeof line, f);
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%31s %x %x %x %u %u %u %x", ifn, &dst, &gw, &flags, &refcnt, &use, &metric, &mask) != 8) continue;
    ++lines;
    int len = __builtin_popcount(mask);
    int found = 0;
    for (int i = 0; i < nroutes; ++i) {
      const struct route* r = &routes[i];
      const struct link* l = link_by_index(r->oif);
      if (r->table == RT_TABLE_MAIN && r->dst == dst && r->dst_len == len && r->gw == gw && l &&
          strcmp(l->name, ifn) == 0)
        found = 1;
    }
    CHECK(found, "/proc/net/route line not in the dump: %s", line);
  }
  fclose(f);
  int main_unicast = 0;
  for (int i = 0; i < nroutes; ++i) main_unicast += routes[i].table == RT_TABLE_MAIN && routes[i].type == RTN_UNICAST;
  CHECK(main_unicast == lines, "main table: %d unicast routes, /proc/net/route %d lines", main_unicast, lines);
  /* Each address has its local route in the local table. */
  for (int i = 0; i < naddrs; ++i) {
    int found = 0;
    for (int j = 0; j < nroutes; ++j)
      found |= routes[j].table == RT_TABLE_LOCAL && routes[j].type == RTN_LOCAL && routes[j].dst_len == 32 &&
               routes[j].dst == addrs[i].local;
    CHECK(found, "no local route for address %d", i);
  }
}

static void check_requests(int fd) {
  /* One link by index, with an ack after it; by name; one nobody has. */
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = links[0].index};
  CHECK(send_req(fd, RTM_GETLINK, NLM_F_ACK, &ifi, sizeof ifi) > 0, "getlink: %s", strerror(errno));
  ssize_t n = answer(fd);
  struct nlmsghdr* h = (void*)buf;
  CHECK(n > 0 && h->nlmsg_type == RTM_NEWLINK && !(h->nlmsg_flags & NLM_F_MULTI) && h->nlmsg_seq == seq,
        "getlink by index: n %zd type %d flags %#x", n, h->nlmsg_type, h->nlmsg_flags);
  CHECK(n > 0 && ((struct ifinfomsg*)NLMSG_DATA(h))->ifi_index == links[0].index, "getlink answered another link");
  n = answer(fd);
  CHECK(n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && h->nlmsg_type == NLMSG_ERROR &&
            ((struct nlmsgerr*)NLMSG_DATA(h))->error == 0,
        "ack: n %zd type %d", n, h->nlmsg_type);

  struct {
    struct ifinfomsg ifi;
    struct rtattr a;
    char name[IFNAMSIZ];
  } byname;
  memset(&byname, 0, sizeof byname);
  byname.a.rta_type = IFLA_IFNAME;
  byname.a.rta_len = RTA_LENGTH(strlen(links[0].name) + 1);
  strcpy(byname.name, links[0].name);
  CHECK(send_req(fd, RTM_GETLINK, 0, &byname, sizeof byname) > 0, "getlink by name: %s", strerror(errno));
  n = answer(fd);
  CHECK(n > 0 && h->nlmsg_type == RTM_NEWLINK && ((struct ifinfomsg*)NLMSG_DATA(h))->ifi_index == links[0].index,
        "getlink by name: n %zd type %d", n, h->nlmsg_type);
  CHECK(answer(fd) < 0 && errno == EAGAIN, "an ack nobody asked for");

  ifi.ifi_index = 999999;
  CHECK(send_req(fd, RTM_GETLINK, 0, &ifi, sizeof ifi) > 0, "getlink 999999: %s", strerror(errno));
  n = answer(fd);
  struct nlmsgerr* e = NLMSG_DATA(h);
  CHECK(n > 0 && h->nlmsg_type == NLMSG_ERROR && e->error == -ENODEV && e->msg.nlmsg_seq == seq &&
            e->msg.nlmsg_type == RTM_GETLINK,
        "no such link: n %zd type %d error %d", n, h->nlmsg_type, e->error);

  /* A control message asking for an ack gets one. */
  CHECK(send_req(fd, NLMSG_NOOP, NLM_F_ACK, "", 0) > 0, "noop: %s", strerror(errno));
  n = answer(fd);
  CHECK(n > 0 && h->nlmsg_type == NLMSG_ERROR && e->error == 0, "noop ack: n %zd type %d", n, h->nlmsg_type);

  /* A header claiming more than was sent: ignored, no answer. */
  struct nlmsghdr bad = {.nlmsg_len = 200, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP};
  CHECK(send(fd, &bad, sizeof bad, 0) == sizeof bad, "short message: %s", strerror(errno));
  CHECK(answer(fd) < 0 && errno == EAGAIN, "a truncated message was answered");

  /* MSG_PEEK|MSG_TRUNC tells a datagram's size without taking it; poll
   * sees it; a real read takes it. */
  struct rtgenmsg g = {.rtgen_family = AF_UNSPEC};
  CHECK(send_req(fd, RTM_GETLINK, NLM_F_DUMP, &g, sizeof g) > 0, "dump: %s", strerror(errno));
  struct pollfd p = {fd, POLLIN, 0};
  CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLIN), "poll after a request: %#x", p.revents);
  ssize_t size = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
  CHECK(size > 0, "peek size: %s", strerror(errno));
  char small[8];
  struct iovec iov = {small, sizeof small};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  n = recvmsg(fd, &m, MSG_PEEK);
  CHECK(n == sizeof small && (m.msg_flags & MSG_TRUNC), "a peek into 8 bytes: %zd flags %#x", n, m.msg_flags);
  n = recv(fd, buf, sizeof buf, 0);
  CHECK(n == size, "read %zd, peeked %zd", n, size);
  while (answer(fd) > 0) {
  }
  p.revents = 0;
  CHECK(poll(&p, 1, 0) == 0, "poll after draining: %#x", p.revents);

  /* Bad input. */
  EXPECT_ERR(EFAULT, sendto(fd, BAD_PTR, 32, 0, NULL, 0));
  struct sockaddr_nl far = {.nl_family = AF_NETLINK, .nl_pid = 0x7ffffff0};
  EXPECT_ERR(ECONNREFUSED, sendto(fd, buf, NLMSG_LENGTH(0), 0, (struct sockaddr*)&far, sizeof far));
  EXPECT_ERR(EINVAL, sendto(fd, buf, NLMSG_LENGTH(0), 0, (struct sockaddr*)&far, 4));
  CHECK(send_req(fd, RTM_GETLINK, NLM_F_DUMP, &g, sizeof g) > 0, "dump: %s", strerror(errno));
  EXPECT_ERR(EFAULT, recv(fd, BAD_PTR, 4096, 0));
  while (answer(fd) > 0) {
  }
  EXPECT_ERR(EAGAIN, recv(fd, buf, sizeof buf, MSG_DONTWAIT));
}

int main(void) {
  EXPECT_ERR(ESOCKTNOSUPPORT, socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE));
  EXPECT_ERR(EPROTONOSUPPORT, socket(AF_NETLINK, SOCK_RAW, 99));
  EXPECT_ERR(EOPNOTSUPP, socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) >= 0
                             ? socketpair(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, (int[2]){0, 0})
                             : -1);
  int fd = EXPECT_OK(open_route());
  int v;
  socklen_t vl = sizeof v;
  CHECK(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vl) == 0 && v == AF_NETLINK, "SO_DOMAIN %d", v);
  CHECK(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &vl) == 0 && v == NETLINK_ROUTE, "SO_PROTOCOL %d", v);
  CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_RAW, "SO_TYPE %d", v);

  /* Port ids: 0 until bound; the first socket gets the pid. */
  struct sockaddr_nl sa;
  socklen_t sl = sizeof sa;
  CHECK(getsockname(fd, (struct sockaddr*)&sa, &sl) == 0 && sl == sizeof sa && sa.nl_family == AF_NETLINK &&
            sa.nl_pid == 0,
        "unbound name: len %u pid %u", sl, sa.nl_pid);
  struct sockaddr_nl any = {.nl_family = AF_NETLINK};
  EXPECT_ERR(EINVAL, bind(fd, (struct sockaddr*)&any, 4));
  struct sockaddr_nl wrong = {.nl_family = AF_INET};
  EXPECT_ERR(EINVAL, bind(fd, (struct sockaddr*)&wrong, sizeof wrong));
  EXPECT_OK(bind(fd, (struct sockaddr*)&any, sizeof any));
  sl = sizeof sa;
  CHECK(getsockname(fd, (struct sockaddr*)&sa, &sl) == 0 && sa.nl_pid == (unsigned)getpid(), "bound to %u, pid %d",
        sa.nl_pid, getpid());
  my_port = sa.nl_pid;
  struct sockaddr_nl other = {.nl_family = AF_NETLINK, .nl_pid = my_port + 1};
  EXPECT_ERR(EINVAL, bind(fd, (struct sockaddr*)&other, sizeof other));
  int fd2 = EXPECT_OK(open_route());
  struct sockaddr_nl same = {.nl_family = AF_NETLINK, .nl_pid = my_port};
  EXPECT_ERR(EADDRINUSE, bind(fd2, (struct sockaddr*)&same, sizeof same));
  EXPECT_OK(bind(fd2, (struct sockaddr*)&any, sizeof any));
  sl = sizeof sa;
  CHECK(getsockname(fd2, (struct sockaddr*)&sa, &sl) == 0 && sa.nl_pid != 0 && sa.nl_pid != my_port,
        "second socket's port %u", sa.nl_pid);
  close(fd2);
  v = 1;
  CHECK(setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, sizeof v) == 0, "NETLINK_EXT_ACK: %s", strerror(errno));
  EXPECT_ERR(ENOPROTOOPT, setsockopt(fd, SOL_IP, IP_TTL, &v, sizeof v));
  v = 0;
  CHECK(setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, sizeof v) == 0, "NETLINK_EXT_ACK off: %s", strerror(errno));

  int n = dump(fd, RTM_GETLINK, parse_link);
  CHECK(n >= 1 && nlinks == n, "link dump: %d parts", n);
  CHECK(nlinks >= 1 && (links[0].flags & IFF_LOOPBACK) && strcmp(links[0].name, "lo") == 0, "the first link is %s",
        nlinks ? links[0].name : "none");
  n = dump(fd, RTM_GETADDR, parse_addr);
  CHECK(n >= 1, "address dump: %d parts", n);
  n = dump(fd, RTM_GETROUTE, parse_route);
  CHECK(n >= 1, "route dump: %d parts", n);
  check_links();
  check_addrs();
  check_routes();
  if (nlinks) check_requests(fd);
  close(fd);
  return finish("abi_netlink");
}
