/* The interfaces as a program sees them without netlink (docs/net.md
 * "Interfaces"): SIOCGIF* ioctls on a socket and /proc/net/{dev,route}.
 *   net_ifaces ADDR PREFIX GATEWAY MAC dhcp|static
 *                                        eth0 has ADDR/PREFIX and MAC, the
 *                                        default route goes to GATEWAY; its
 *                                        counters show frames sent (and,
 *                                        after DHCP, received)
 *   net_ifaces none                      only lo (no network)
 * Also checks what bad input gets: an unknown name ENODEV, an index
 * nobody has ENODEV, a bad pointer EFAULT, SIOCSIFADDR refused.
 * Prints "PASS net_ifaces" or one FAIL line per difference. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int failures;
#define CHECK(c, ...)                                  \
  do {                                                 \
    if (!(c)) {                                        \
      printf("FAIL net_ifaces:%d: ", __LINE__);        \
      printf(__VA_ARGS__);                             \
      printf(" (errno %d %s)\n", errno, strerror(errno)); \
      ++failures;                                      \
    }                                                  \
  } while (0)

static int ifr(int fd, unsigned long cmd, const char* name, struct ifreq* r) {
  memset(r, 0, sizeof *r);
  snprintf(r->ifr_name, IFNAMSIZ, "%s", name);
  return ioctl(fd, cmd, r);
}

static const char* addr_of(struct sockaddr* sa, char* buf) {
  return inet_ntop(AF_INET, &((struct sockaddr_in*)sa)->sin_addr, buf, INET_ADDRSTRLEN);
}

static int read_file(const char* path, char* buf, size_t cap) {
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
  return (int)n;
}

int main(int argc, char** argv) {
  int net = argc == 6;
  if (!net && !(argc == 2 && !strcmp(argv[1], "none"))) {
    printf("FAIL net_ifaces: usage\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(fd >= 0, "socket");
  struct ifreq r;
  char a[INET_ADDRSTRLEN];

  /* lo, always index 1. */
  CHECK(ifr(fd, SIOCGIFFLAGS, "lo", &r) == 0 && (r.ifr_flags & IFF_LOOPBACK) && (r.ifr_flags & IFF_UP),
        "lo flags %#x", r.ifr_flags);
  CHECK(ifr(fd, SIOCGIFADDR, "lo", &r) == 0 && !strcmp(addr_of(&r.ifr_addr, a), "127.0.0.1"), "lo addr %s", a);
  CHECK(ifr(fd, SIOCGIFNETMASK, "lo", &r) == 0 && !strcmp(addr_of(&r.ifr_netmask, a), "255.0.0.0"),
        "lo mask %s", a);
  CHECK(ifr(fd, SIOCGIFINDEX, "lo", &r) == 0 && r.ifr_ifindex == 1, "lo index %d", r.ifr_ifindex);
  CHECK(ifr(fd, SIOCGIFHWADDR, "lo", &r) == 0 && r.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK, "lo hw family %d",
        r.ifr_hwaddr.sa_family);
  CHECK(if_nametoindex("lo") == 1, "if_nametoindex(lo)");

  /* SIOCGIFCONF: the length asked first, then the list. */
  struct ifconf c = {0};
  CHECK(ioctl(fd, SIOCGIFCONF, &c) == 0 && c.ifc_len == (int)((net ? 2 : 1) * sizeof(struct ifreq)),
        "SIOCGIFCONF length %d", c.ifc_len);
  struct ifreq list[8];
  c.ifc_len = sizeof list;
  c.ifc_req = list;
  CHECK(ioctl(fd, SIOCGIFCONF, &c) == 0 && c.ifc_len == (int)((net ? 2 : 1) * sizeof(struct ifreq)),
        "SIOCGIFCONF %d", c.ifc_len);
  CHECK(!strcmp(list[0].ifr_name, "lo") && !strcmp(addr_of(&list[0].ifr_addr, a), "127.0.0.1"), "conf[0] %s %s",
        list[0].ifr_name, a);

  if (net) {
    CHECK(!strcmp(list[1].ifr_name, "eth0") && !strcmp(addr_of(&list[1].ifr_addr, a), argv[1]), "conf[1] %s %s",
          list[1].ifr_name, a);
    CHECK(ifr(fd, SIOCGIFADDR, "eth0", &r) == 0 && !strcmp(addr_of(&r.ifr_addr, a), argv[1]), "eth0 addr %s", a);
    unsigned prefix = (unsigned)atoi(argv[2]);
    struct in_addr m = {htonl(prefix ? ~0u << (32 - prefix) : 0)};
    CHECK(ifr(fd, SIOCGIFNETMASK, "eth0", &r) == 0 &&
              ((struct sockaddr_in*)&r.ifr_netmask)->sin_addr.s_addr == m.s_addr,
          "eth0 mask %s", addr_of(&r.ifr_netmask, a));
    CHECK(ifr(fd, SIOCGIFFLAGS, "eth0", &r) == 0 && (r.ifr_flags & IFF_UP) && (r.ifr_flags & IFF_BROADCAST) &&
              (r.ifr_flags & IFF_MULTICAST) && !(r.ifr_flags & IFF_LOOPBACK),
          "eth0 flags %#x", r.ifr_flags);
    CHECK(ifr(fd, SIOCGIFMTU, "eth0", &r) == 0 && r.ifr_mtu == 1500, "eth0 mtu %d", r.ifr_mtu);
    char mac[18];
    CHECK(ifr(fd, SIOCGIFHWADDR, "eth0", &r) == 0 && r.ifr_hwaddr.sa_family == ARPHRD_ETHER, "eth0 hw");
    unsigned char* h = (unsigned char*)r.ifr_hwaddr.sa_data;
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3], h[4], h[5]);
    CHECK(!strcmp(mac, argv[4]), "eth0 mac %s", mac);
    CHECK(ifr(fd, SIOCGIFINDEX, "eth0", &r) == 0 && r.ifr_ifindex == 2, "eth0 index %d", r.ifr_ifindex);
    memset(&r, 0, sizeof r);
    r.ifr_ifindex = 2;
    CHECK(ioctl(fd, SIOCGIFNAME, &r) == 0 && !strcmp(r.ifr_name, "eth0"), "SIOCGIFNAME 2: %s", r.ifr_name);
  } else {
    CHECK(ifr(fd, SIOCGIFFLAGS, "eth0", &r) == -1 && errno == ENODEV, "eth0 without a network");
  }

  /* Bad input. */
  CHECK(ifr(fd, SIOCGIFFLAGS, "nosuch0", &r) == -1 && errno == ENODEV, "unknown name");
  memset(&r, 0, sizeof r);
  r.ifr_ifindex = 999;
  CHECK(ioctl(fd, SIOCGIFNAME, &r) == -1 && errno == ENODEV, "index 999");
  CHECK(ioctl(fd, SIOCGIFFLAGS, (void*)8) == -1 && errno == EFAULT, "bad pointer");
  c.ifc_len = sizeof list;
  c.ifc_req = (struct ifreq*)8;
  CHECK(ioctl(fd, SIOCGIFCONF, &c) == -1 && errno == EFAULT, "SIOCGIFCONF bad buffer");

  /* /proc/net: lo (and eth0) in dev; the routes in route. */
  char text[4096], want[160];
  CHECK(read_file("/proc/net/dev", text, sizeof text) > 0 && strstr(text, "    lo:") &&
            strstr(text, "|bytes    packets errs drop fifo"),
        "/proc/net/dev:\n%s", text);
  if (net) {
    /* eth0 counts every frame: the DHCP exchange went both ways; a
     * datagram to the gateway goes out (after an ARP request) either way. */
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
    inet_pton(AF_INET, argv[3], &to.sin_addr);
    CHECK(sendto(fd, "x", 1, 0, (struct sockaddr*)&to, sizeof to) == 1, "sendto the gateway");
    CHECK(read_file("/proc/net/dev", text, sizeof text) > 0, "/proc/net/dev again");
    int dhcp = !strcmp(argv[5], "dhcp");
    char* l = strstr(text, "  eth0:");
    unsigned long long rxb = 0, rxp = 0, txb = 0, txp = 0, skip;
    CHECK(l && sscanf(l + 7, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &rxb, &rxp, &skip, &skip, &skip,
                      &skip, &skip, &skip, &txb, &txp) == 10 && (rxp > 0 || !dhcp) && txp > 0 && rxb >= 60 * rxp && txb >= 42 * txp,
          "eth0 counters rx %llu/%llu tx %llu/%llu in:\n%s", rxp, rxb, txp, txb, text);
  }
  int routes = read_file("/proc/net/route", text, sizeof text);
  CHECK(routes > 0 && !strncmp(text, "Iface\tDestination\tGateway", 25), "/proc/net/route:\n%s", text);
  if (net) {
    CHECK(strstr(text, "eth0") != NULL, "/proc/net/dev has no eth0");
    struct in_addr gw, ad;
    inet_pton(AF_INET, argv[3], &gw);
    inet_pton(AF_INET, argv[1], &ad);
    unsigned prefix = (unsigned)atoi(argv[2]);
    unsigned mask = htonl(prefix ? ~0u << (32 - prefix) : 0);
    snprintf(want, sizeof want, "eth0\t00000000\t%08X\t0003\t0\t0\t0\t00000000", gw.s_addr);
    CHECK(strstr(text, want) != NULL, "no default route line '%s' in:\n%s", want, text);
    snprintf(want, sizeof want, "eth0\t%08X\t00000000\t0001\t0\t0\t0\t%08X", ad.s_addr & mask, mask);
    CHECK(strstr(text, want) != NULL, "no connected route line '%s' in:\n%s", want, text);
    /* Every line is 127 characters, as Linux pads them. */
    for (char* l = text; *l;) {
      char* e = strchr(l, '\n');
      CHECK(e && e - l == 127, "route line of %d characters", e ? (int)(e - l) : -1);
      if (!e) break;
      l = e + 1;
    }
  } else {
    CHECK(strchr(text, '\n') == text + 127 && text[128] == 0, "routes without a network:\n%s", text);
  }
  close(fd);
  if (!failures) printf("PASS net_ifaces\n");
  return failures ? 1 : 0;
}
