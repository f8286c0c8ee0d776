// The interface ioctls every socket answers (SIOCGIF*): what ifconfig,
// busybox's ifconfig and libraries that list interfaces without netlink
// ask. Read-only: the SIOCSIF* calls that set addresses, flags or MTU are
// EOPNOTSUPP (the configuration comes from DHCP or --ip). Linux's struct ifreq/ifconf [include/uapi/linux/if.h], errors as
// Linux gives them: an unknown name ENODEV, an interface without an IPv4
// address EADDRNOTAVAIL, a bad pointer EFAULT.
#include "linux/socket_file.h"

#include "arch/uaccess.h"
#include "net/netif.h"

namespace capsule::linux_abi {
namespace {

constexpr uint64_t SIOCGIFNAME = 0x8910, SIOCGIFCONF = 0x8912, SIOCGIFFLAGS = 0x8913, SIOCGIFADDR = 0x8915,
                   SIOCGIFBRDADDR = 0x8919, SIOCGIFNETMASK = 0x891b, SIOCGIFMTU = 0x8921, SIOCGIFHWADDR = 0x8927,
                   SIOCGIFINDEX = 0x8933, SIOCGIFTXQLEN = 0x8942;
constexpr uint16_t L_AF_INET = 2, ARPHRD_ETHER = 1, ARPHRD_LOOPBACK = 772;
constexpr size_t IFNAMSIZ = 16;

struct LSockaddr {
  uint16_t family;
  uint8_t data[14];
};
struct IfReq {
  char name[IFNAMSIZ];
  union {
    LSockaddr addr;
    int16_t flags;
    int32_t ivalue;
    uint8_t pad[24];
  };
};
static_assert(sizeof(IfReq) == 40);
struct IfConf {
  int32_t len;
  int32_t pad;
  uint64_t buf;
};
static_assert(sizeof(IfConf) == 16);

LSockaddr inet_addr(net::Ipv4 a) {
  LSockaddr s{};
  s.family = L_AF_INET;
  // sin_port (2 bytes, 0), then the address in network order.
  s.data[2] = uint8_t(a.v >> 24);
  s.data[3] = uint8_t(a.v >> 16);
  s.data[4] = uint8_t(a.v >> 8);
  s.data[5] = uint8_t(a.v);
  return s;
}

void set_name(IfReq& r, const char* name) {
  __builtin_memset(r.name, 0, IFNAMSIZ);
  for (size_t i = 0; name[i] && i + 1 < IFNAMSIZ; ++i) r.name[i] = name[i];
}

// SIOCGIFCONF: one ifreq per interface with an IPv4 address; a null
// buffer asks for the length needed.
Result<int64_t> ifconf(UserPtr<IfConf> p) {
  IfConf c = TRY(p.read());
  if (c.len < 0) return Error::Invalid;
  int32_t used = 0;
  for (uint32_t i = 1; net::Netif* nif = net::netif_by_index(i); ++i) {
    if (nif->addr().any()) continue;
    if (c.buf) {
      if (used + int32_t(sizeof(IfReq)) > c.len) break;
      IfReq r{};
      set_name(r, nif->name());
      r.addr = inet_addr(nif->addr());
      TRY(UserPtr<IfReq>(c.buf + uint64_t(used)).write(r));
    }
    used += int32_t(sizeof(IfReq));
  }
  c.len = used;
  TRY(p.write(c));
  return int64_t(0);
}

}  // namespace

Result<int64_t> interface_ioctl(uint64_t cmd, uint64_t arg) {
  if (cmd == SIOCGIFCONF) return ifconf(UserPtr<IfConf>(arg));
  switch (cmd) {
    case SIOCGIFNAME: case SIOCGIFFLAGS: case SIOCGIFADDR: case SIOCGIFBRDADDR: case SIOCGIFNETMASK:
    case SIOCGIFMTU: case SIOCGIFHWADDR: case SIOCGIFINDEX: case SIOCGIFTXQLEN: break;
    default: return Error::NotSupported;
  }
  UserPtr<IfReq> p(arg);
  IfReq r = TRY(p.read());
  net::Netif* nif = nullptr;
  if (cmd == SIOCGIFNAME) {
    nif = r.ivalue > 0 ? net::netif_by_index(uint32_t(r.ivalue)) : nullptr;
    if (!nif) return Error::NoDevice;
    set_name(r, nif->name());
    TRY(p.write(r));
    return int64_t(0);
  }
  r.name[IFNAMSIZ - 1] = 0;
  nif = net::netif_by_name(r.name);
  if (!nif) return Error::NoDevice;
  __builtin_memset(r.pad, 0, sizeof r.pad);
  net::Ipv4 a = nif->addr();
  uint32_t mask = net::prefix_mask(nif->prefix());
  switch (cmd) {
    case SIOCGIFFLAGS: r.flags = int16_t(nif->flags()); break;
    case SIOCGIFINDEX: r.ivalue = int32_t(nif->index()); break;
    case SIOCGIFMTU: r.ivalue = int32_t(nif->mtu()); break;
    case SIOCGIFTXQLEN: r.ivalue = 1000; break;  // Linux's default queue length
    case SIOCGIFADDR:
    case SIOCGIFNETMASK:
    case SIOCGIFBRDADDR:
      if (a.any()) return Error::AddrNotAvail;
      r.addr = inet_addr(cmd == SIOCGIFADDR      ? a
                         : cmd == SIOCGIFNETMASK ? net::Ipv4{mask}
                                                 : net::Ipv4{(a.v & mask) | ~mask});
      break;
    case SIOCGIFHWADDR: {
      bool lo = nif->flags() & net::NetifFlags::LOOPBACK;
      r.addr.family = lo ? ARPHRD_LOOPBACK : ARPHRD_ETHER;
      nif->hw_addr(r.addr.data);
      break;
    }
  }
  TRY(p.write(r));
  return int64_t(0);
}

}  // namespace capsule::linux_abi
