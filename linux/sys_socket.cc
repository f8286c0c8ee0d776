// The socket system calls (socket(2), unix(7), docs/net.md): Linux's
// sockaddr, msghdr, cmsg and option structures translated onto net/'s
// Socket interface. Every socket is a descriptor object (SocketVnode, a
// stream vnode that fstat reports as S_IFSOCK), so read/write/close/poll/
// epoll/fcntl work on it as on any descriptor.
#include <cstddef>
#include <new>

#include "arch/uaccess.h"
#include "linux/event_args.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/netlink.h"
#include "linux/process_state.h"
#include "linux/procfs.h"
#include "linux/socket_file.h"
#include "linux/syscall.h"
#include "net/inet.h"
#include "net/unix.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

// Families, types and flags (socket(2), bits/socket.h).
constexpr int L_AF_UNSPEC = 0, L_AF_UNIX = 1, L_AF_INET = 2, L_AF_INET6 = 10, L_AF_MAX = 46;
constexpr int L_IPPROTO_IP = 0, L_IPPROTO_ICMP = 1, L_IPPROTO_TCP = 6, L_IPPROTO_UDP = 17, L_IPPROTO_ICMPV6 = 58;
constexpr int L_SOCK_STREAM = 1, L_SOCK_DGRAM = 2, L_SOCK_RAW = 3, L_SOCK_SEQPACKET = 5, L_SOCK_PACKET = 10,
              L_SOCK_TYPE_MASK = 0xf;
constexpr int L_SOCK_NONBLOCK = 04000, L_SOCK_CLOEXEC = 02000000;
constexpr int L_SHUT_RD = 0, L_SHUT_WR = 1, L_SHUT_RDWR = 2;

constexpr uint32_t L_MSG_OOB = 1, L_MSG_PEEK = 2, L_MSG_CTRUNC = 8, L_MSG_TRUNC = 0x20, L_MSG_DONTWAIT = 0x40,
                   L_MSG_WAITALL = 0x100, L_MSG_NOSIGNAL = 0x4000, L_MSG_WAITFORONE = 0x10000,
                   L_MSG_CMSG_CLOEXEC = 0x40000000;

constexpr int L_SOL_SOCKET = 1;
constexpr int L_SO_REUSEADDR = 2, L_SO_TYPE = 3, L_SO_ERROR = 4, L_SO_SNDBUF = 7, L_SO_RCVBUF = 8,
              L_SO_KEEPALIVE = 9, L_SO_PASSCRED = 16, L_SO_PEERCRED = 17, L_SO_RCVLOWAT = 18,
              L_SO_SNDLOWAT = 19, L_SO_RCVTIMEO = 20, L_SO_SNDTIMEO = 21, L_SO_RCVTIMEO_NEW = 66,
              L_SO_SNDTIMEO_NEW = 67, L_SO_ACCEPTCONN = 30, L_SO_SNDBUFFORCE = 32, L_SO_RCVBUFFORCE = 33,
              L_SO_PROTOCOL = 38, L_SO_DOMAIN = 39, L_SO_BROADCAST = 6, L_SO_LINGER = 13, L_SO_REUSEPORT = 15;
constexpr int L_SOL_IP = 0, L_SOL_TCP = 6, L_SOL_IPV6 = 41;
constexpr int L_IP_TOS = 1, L_IP_TTL = 2, L_IP_RETOPTS = 7, L_IP_RECVERR = 11, L_IP_RECVTTL = 12;
constexpr int L_IPV6_UNICAST_HOPS = 16, L_IPV6_RECVERR = 25, L_IPV6_V6ONLY = 26, L_IPV6_RECVHOPLIMIT = 51,
              L_IPV6_HOPLIMIT = 52, L_IPV6_TCLASS = 67;
constexpr int L_SO_TIMESTAMP = 29;  // SO_TIMESTAMP_OLD: SCM_TIMESTAMP, a struct timeval
// Raw ICMP sockets' filters (include/uapi/linux/icmp.h, icmpv6.h).
constexpr int L_SOL_RAW = 255, L_SOL_ICMPV6 = 58, L_ICMP_FILTER = 1, L_ICMP6_FILTER = 1;
constexpr int L_IPV6_CHECKSUM = 7;  // at SOL_RAW for ICMPv6 (RFC 3542 3.1; SOL_IPV6 refuses it there)
constexpr int L_TCP_NODELAY = 1, L_TCP_MAXSEG = 2, L_TCP_CORK = 3, L_TCP_KEEPIDLE = 4, L_TCP_KEEPINTVL = 5, L_TCP_KEEPCNT = 6;
constexpr int L_TCP_CONGESTION = 13, L_TCP_INFO = 11;
constexpr size_t L_TCP_INFO_SIZE = 248;  // sizeof(struct tcp_info) since Linux 6.7 (tcpi_total_rto_time)
constexpr size_t L_TCP_CA_NAME_MAX = 16;
// TCP_CONGESTION's names, by net::SockOpt::Congestion's value (net/inet/tcp_cc.h).
constexpr const char* CC_NAMES[] = {"reno", "cubic"};
constexpr int L_SCM_RIGHTS = 1, L_SCM_CREDENTIALS = 2;
constexpr size_t SCM_MAX_FD = 253;

// net.core.wmem_max/rmem_max as Linux ships them, and the floors of
// sock_setsockopt (SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF on x86-64).
constexpr int BUF_MAX = 212992, MIN_SNDBUF = 4608, MIN_RCVBUF = 2304;

constexpr size_t SOCKADDR_STORAGE = 128;  // the most any call copies in
constexpr size_t SUN_PATH_OFF = 2;        // offsetof(struct sockaddr_un, sun_path)
constexpr size_t SOCKADDR_UN = 110;       // sizeof(struct sockaddr_un)
constexpr size_t SOCKADDR_IN = 16;        // sizeof(struct sockaddr_in)
constexpr size_t SOCKADDR_IN6 = 28;       // sizeof(struct sockaddr_in6)
constexpr size_t SIN6_LEN_RFC2133 = 24;   // a sockaddr_in6 without sin6_scope_id: the least Linux takes

constexpr uint64_t FIONREAD = 0x541b, SIOCOUTQ = 0x5411;  // SIOCINQ is FIONREAD

struct KMsghdr {
  uint64_t name;
  uint32_t namelen, pad0;
  uint64_t iov, iovlen, control, controllen;
  int32_t flags;
  uint32_t pad1;
};
static_assert(sizeof(KMsghdr) == 56);
struct KMmsghdr {
  KMsghdr hdr;
  uint32_t len, pad;
};
static_assert(sizeof(KMmsghdr) == 64);
struct KCmsghdr {
  uint64_t len;
  int32_t level, type;
};
struct KUcred {
  int32_t pid;
  uint32_t uid, gid;
};
constexpr size_t cmsg_align(size_t n) { return (n + 7) & ~size_t(7); }

constexpr char SOCKET_KIND = 0;  // SocketVnode::kind()

class SocketVnode final : public StreamVnode {
 public:
  explicit SocketVnode(net::SocketRef s) : StreamVnode(vfs::MODE_SOCKET | 0777), sock_(static_cast<net::SocketRef&&>(s)) {
    sock_->set_ino(ino());  // /proc/net/tcp's inode column, as /proc/self/fd's socket:[ino]
  }
  net::Socket& sock() { return *sock_; }

  Result<size_t> read_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    net::RecvMsg m(buf);
    m.nonblock = f.flags() & OpenFile::NONBLOCK;
    return sock_->recvmsg(m);
  }
  Result<size_t> write_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    net::SendMsg m(buf);
    m.nonblock = f.flags() & OpenFile::NONBLOCK;
    m.creds = current_creds();
    return sock_->sendmsg(m);
  }
  Pollable* pollable() override { return sock_.get(); }
  bool sigpipe() const override { return true; }
  const void* kind() const override { return &SOCKET_KIND; }
  Result<int64_t> ioctl(OpenFile&, uint64_t cmd, uint64_t arg) override {
    int n;
    if (cmd == FIONREAD) n = int(sock_->bytes_readable());
    else if (cmd == SIOCOUTQ) n = int(sock_->bytes_unsent());
    else return interface_ioctl(cmd, arg);
    TRY(UserPtr<int>(arg).write(n));
    return int64_t(0);
  }

 protected:
  ~SocketVnode() override { sock_->close(); }

 private:
  net::SocketRef sock_;
};

Result<vfs::FileRef> socket_file(Fd fd, net::Socket** out) {
  vfs::FileRef f = TRY(get_file(fd));
  if (f->vnode().kind() != &SOCKET_KIND) return Error::NotSocket;
  *out = &static_cast<SocketVnode&>(f->vnode()).sock();
  return f;
}

Result<Fd> install_socket(net::SocketRef s, int flags) {
  auto* v = new (std::nothrow) SocketVnode(static_cast<net::SocketRef&&>(s));
  if (!v) return Error::NoMemory;
  vfs::VnodeRef ref = vfs::VnodeRef::adopt(v);
  uint32_t ff = OpenFile::READ | OpenFile::WRITE | ((flags & L_SOCK_NONBLOCK) ? OpenFile::NONBLOCK : 0);
  return install_stream_fd(ref, ff, flags & L_SOCK_CLOEXEC);
}

bool nonblocking(const OpenFile& f, uint32_t msg_flags) {
  return (f.flags() & OpenFile::NONBLOCK) || (msg_flags & L_MSG_DONTWAIT);
}

// Interrupted waits restart (or fail with EINTR) as Linux's -ERESTARTSYS;
// with SO_RCVTIMEO/SO_SNDTIMEO set (timed) they are EINTR whatever
// SA_RESTART says (sock_intr_errno, signal(7)).
template <typename T>
Result<T> restart(Result<T>&& r, bool timed) {
  if (!r.ok() && r.error() == Error::Interrupted && !timed) return Error::RestartSys;
  return static_cast<Result<T>&&>(r);
}

// A send or receive's result as io_done gives it, but EINTR (no restart)
// when the socket has the matching timeout.
Result<size_t> sock_io_done(Result<size_t>&& r, bool sigpipe, bool timed) {
  if (!r.ok() && r.error() == Error::Interrupted && timed) return r;
  return io_done(static_cast<Result<size_t>&&>(r), sigpipe);
}

// --- addresses ----------------------------------------------------------------------

// Copies a sockaddr in (move_addr_to_kernel): a length outside
// [0, sizeof(sockaddr_storage)] is EINVAL, a bad pointer EFAULT.
Result<void> copy_sockaddr(UserPtr<const uint8_t> p, int len, uint8_t* buf) {
  if (len < 0 || size_t(len) > SOCKADDR_STORAGE) return Error::Invalid;
  if (len) TRY(p.copy_in(buf, size_t(len)));
  return {};
}

// A sockaddr_un as net's Address (unix_validate_addr): at least one byte
// of sun_path, at most sizeof(sockaddr_un), family AF_UNIX; a path ends at
// its first NUL (or at the end: 108 bytes need none), an abstract name is
// every byte given.
Result<void> parse_unix(const uint8_t* buf, int len, net::Address& a, Ctx& ctx) {
  if (size_t(len) <= SUN_PATH_OFF || size_t(len) > SOCKADDR_UN) return Error::Invalid;
  if ((buf[0] | buf[1] << 8) != L_AF_UNIX) return Error::Invalid;
  a.family = net::Family::Unix;
  size_t n = size_t(len) - SUN_PATH_OFF;
  if (buf[SUN_PATH_OFF] != 0) {
    size_t i = 0;
    while (i < n && buf[SUN_PATH_OFF + i]) ++i;
    n = i;
  }
  a.len = uint16_t(n);
  for (size_t i = 0; i < n; ++i) a.data[i] = buf[SUN_PATH_OFF + i];
  ctx = user_ctx();
  a.at = nullptr;  // the caller points it at its Ctx's PathContext
  return {};
}

// A sockaddr_in as net's Address (ip(7)): at least sizeof(sockaddr_in)
// bytes (EINVAL); a family other than AF_INET is EAFNOSUPPORT, except
// that AF_UNSPEC is taken as AF_INET where Linux does (bind of
// INADDR_ANY, sendto): `unspec_ok`.
Result<void> parse_inet(const uint8_t* buf, int len, net::Address& a, bool unspec_ok) {
  if (size_t(len) < SOCKADDR_IN) return Error::Invalid;
  int fam = buf[0] | buf[1] << 8;
  if (fam != L_AF_INET && !(fam == L_AF_UNSPEC && unspec_ok)) return Error::FamilyNotSupported;
  uint16_t port = uint16_t(buf[2] << 8 | buf[3]);
  net::Ipv4 ip{uint32_t(buf[4]) << 24 | uint32_t(buf[5]) << 16 | uint32_t(buf[6]) << 8 | buf[7]};
  net::inet_address(a, ip, port);
  return {};
}

// A sockaddr_in6 as net's Address (ipv6(7)): at least SIN6_LEN_RFC2133
// bytes (EINVAL), AF_INET6 (EAFNOSUPPORT), as inet6_bind and
// tcp_v6_connect check; sin6_scope_id when the 28 bytes are there.
Result<void> parse_inet6(const uint8_t* buf, int len, net::Address& a) {
  if (size_t(len) < SIN6_LEN_RFC2133) return Error::Invalid;
  if ((buf[0] | buf[1] << 8) != L_AF_INET6) return Error::FamilyNotSupported;
  uint16_t port = uint16_t(buf[2] << 8 | buf[3]);
  net::IpAddr ip;
  __builtin_memcpy(ip.b, buf + 8, 16);
  uint32_t scope = 0;
  if (size_t(len) >= SOCKADDR_IN6) __builtin_memcpy(&scope, buf + 24, 4);
  net::inet6_address(a, ip, port, scope);
  return {};
}

bool is_inet(const net::Socket& s) { return s.family() == net::Family::Inet || s.family() == net::Family::Inet6; }

// A destination address for sendto/sendmsg, by the socket's family.
Result<bool> parse_dest(net::Socket& s, const uint8_t* abuf, int len, net::Address& to, Ctx& ctx) {
  if (s.family() == net::Family::Netlink) {
    TRY(parse_netlink_addr(abuf, size_t(len), to));
    return true;
  }
  if (s.protocol()) {
    // ping_v4_sendmsg / raw_sendmsg: a sockaddr_in of AF_INET (raw: or
    // AF_UNSPEC); ping_v6_sendmsg a whole sockaddr_in6 (rawv6: 24 bytes)
    // of AF_INET6, else EINVAL / EAFNOSUPPORT.
    const bool raw = s.type() == net::SockType::Raw;
    if (s.family() == net::Family::Inet) {
      TRY(parse_inet(abuf, len, to, raw));
      return true;
    }
    if (size_t(len) < (raw ? SIN6_LEN_RFC2133 : SOCKADDR_IN6)) return Error::Invalid;
    TRY(parse_inet6(abuf, len, to));
    return true;
  }
  if (s.family() == net::Family::Inet6) {
    if (s.type() == net::SockType::Stream) return false;  // tcp_sendmsg ignores msg_name
    // udpv6_sendmsg: AF_INET6; AF_INET goes to IPv4 (net refuses it on a
    // V6ONLY socket); AF_UNSPEC is no address; another family EINVAL.
    if (len < int(sizeof(uint16_t))) return Error::Invalid;
    int fam = abuf[0] | abuf[1] << 8;
    if (fam == L_AF_UNSPEC) return false;
    if (fam == L_AF_INET) {
      TRY(parse_inet(abuf, len, to, false));
      return true;
    }
    if (fam != L_AF_INET6) return Error::Invalid;
    TRY(parse_inet6(abuf, len, to));
    return true;
  }
  if (s.family() == net::Family::Inet) {
    // tcp_sendmsg ignores msg_name; udp_sendmsg takes AF_UNSPEC as AF_INET.
    if (s.type() == net::SockType::Stream) return false;
    TRY(parse_inet(abuf, len, to, true));
    return true;
  }
  // A unix stream socket refuses any address (EISCONN/EOPNOTSUPP, from
  // net); a seqpacket one ignores it (unix_seqpacket_sendmsg).
  if (s.type() == net::SockType::Dgram) {
    TRY(parse_unix(abuf, len, to, ctx));
    return true;
  }
  return s.type() == net::SockType::Stream;
}

// The sockaddr bytes of an address; its length. An unnamed AF_UNIX
// socket is the family alone.
size_t encode_sockaddr(const net::Address& a, uint8_t* buf) {
  if (a.family == net::Family::Netlink) return encode_netlink_addr(a, buf);
  if (a.family == net::Family::Inet) {
    __builtin_memset(buf, 0, SOCKADDR_IN);
    buf[0] = uint8_t(L_AF_INET);
    uint16_t port = net::inet_port(a);
    uint32_t ip = net::inet_ip(a).v;
    buf[2] = uint8_t(port >> 8), buf[3] = uint8_t(port);
    buf[4] = uint8_t(ip >> 24), buf[5] = uint8_t(ip >> 16), buf[6] = uint8_t(ip >> 8), buf[7] = uint8_t(ip);
    return SOCKADDR_IN;
  }
  if (a.family == net::Family::Inet6) {
    __builtin_memset(buf, 0, SOCKADDR_IN6);
    buf[0] = uint8_t(L_AF_INET6);
    uint16_t port = net::inet_port(a);
    buf[2] = uint8_t(port >> 8), buf[3] = uint8_t(port);
    __builtin_memcpy(buf + 8, a.data, 16);  // sin6_flowinfo (4..7) stays 0
    uint32_t scope = net::inet6_scope(a);
    __builtin_memcpy(buf + 24, &scope, 4);
    return SOCKADDR_IN6;
  }
  buf[0] = uint8_t(L_AF_UNIX), buf[1] = 0;
  size_t n = SUN_PATH_OFF + a.len;
  for (size_t i = 0; i < a.len; ++i) buf[SUN_PATH_OFF + i] = a.data[i];
  if (a.len && !a.abstract()) buf[n++] = 0;  // a path name's length counts its NUL
  return n;
}

// Writes an address out (move_addr_to_user): *ulen is read first (EFAULT;
// negative: EINVAL); at most that many bytes are copied; the real length
// goes back in *ulen. An unnamed socket is the family alone, or nothing
// at all when `empty_unnamed` (recvfrom's sender).
Result<void> put_sockaddr(const net::Address& a, UserPtr<uint8_t> uaddr, UserPtr<int> ulen, bool empty_unnamed) {
  int have = TRY(ulen.read());
  if (have < 0) return Error::Invalid;
  uint8_t buf[SUN_PATH_OFF + net::MAX_ADDRESS + 1];
  size_t n = encode_sockaddr(a, buf);
  if (a.len == 0 && empty_unnamed) n = 0;
  size_t copy = size_t(have) < n ? size_t(have) : n;
  if (copy) TRY(uaddr.copy_out(buf, copy));
  return ulen.write(int(n));
}

// --- creation -----------------------------------------------------------------------

Result<net::SockType> unix_type(int type) {
  switch (type) {
    case L_SOCK_STREAM: return net::SockType::Stream;
    case L_SOCK_DGRAM:
    case L_SOCK_RAW: return net::SockType::Dgram;  // unix_create: SOCK_RAW is SOCK_DGRAM
    case L_SOCK_SEQPACKET: return net::SockType::SeqPacket;
    default: return Error::SockTypeNotSupported;
  }
}

// socket(2)'s checks in Linux's order: flags, the type's range, the family,
// then the family's own (type, protocol).
Result<net::SockType> check_socket_args(int domain, int type, int protocol, int* flags, bool* icmp = nullptr) {
  *flags = type & ~L_SOCK_TYPE_MASK;
  if (*flags & ~(L_SOCK_NONBLOCK | L_SOCK_CLOEXEC)) return Error::Invalid;
  type &= L_SOCK_TYPE_MASK;
  if (domain < 0 || domain >= L_AF_MAX) return Error::FamilyNotSupported;
  if (type > L_SOCK_PACKET) return Error::Invalid;
  if (domain == L_AF_INET || domain == L_AF_INET6) {
    // inet_create (inet6_create the same): a type with no protocol is ESOCKTNOSUPPORT, a protocol
    // the type does not have EPROTONOSUPPORT (raw sockets: not here).
    if (type == L_SOCK_STREAM && (protocol == 0 || protocol == L_IPPROTO_TCP)) return net::SockType::Stream;
    if (type == L_SOCK_DGRAM && (protocol == 0 || protocol == L_IPPROTO_UDP)) return net::SockType::Dgram;
    // Ping sockets (SOCK_DGRAM, ICMP or ICMPv6 by the family) and raw ICMP
    // sockets; raw ones need CAP_NET_RAW (EPERM), after the protocol check.
    // Other raw protocols are not there (EPROTONOSUPPORT; Linux has them).
    const int icmp_proto = domain == L_AF_INET ? L_IPPROTO_ICMP : L_IPPROTO_ICMPV6;
    if ((type == L_SOCK_DGRAM || type == L_SOCK_RAW) && protocol == icmp_proto) {
      if (type == L_SOCK_RAW && current_euid() != 0) return Error::Permission;
      if (icmp) *icmp = true;
      return type == L_SOCK_RAW ? net::SockType::Raw : net::SockType::Dgram;
    }
    if (type == L_SOCK_STREAM || type == L_SOCK_DGRAM || type == L_SOCK_RAW) return Error::ProtoNotSupported;
    return Error::SockTypeNotSupported;
  }
  if (domain == L_AF_NETLINK) {
    // netlink_create: raw or datagram, a protocol below MAX_LINKS that
    // exists (NETLINK_ROUTE here).
    if (type != L_SOCK_RAW && type != L_SOCK_DGRAM) return Error::SockTypeNotSupported;
    if (protocol != 0) return Error::ProtoNotSupported;
    return net::SockType::Dgram;
  }
  if (domain != L_AF_UNIX) return Error::FamilyNotSupported;
  if (protocol != 0 && protocol != L_AF_UNIX) return Error::ProtoNotSupported;
  return unix_type(type);
}

// --- messages -----------------------------------------------------------------------

// Copies a msghdr's iovec array in: EMSGSIZE above UIO_MAXIOV, EINVAL when
// the total overflows.
struct IovIn {
  CallArray<Iov> v;
  size_t n;
  explicit IovIn(size_t count) : v(count ? count : 1), n(count) {}
};

Result<void> read_iov(IovIn& io, uint64_t addr) {
  if (io.v.failed()) return Error::NoMemory;
  if (io.n) TRY(UserPtr<const Iov>(addr).copy_in(io.v.get(), io.n));
  uint64_t total = 0;
  for (size_t i = 0; i < io.n; ++i) {
    if (io.v[i].len > uint64_t(INT64_MAX) || (total += io.v[i].len) > uint64_t(INT64_MAX)) return Error::Invalid;
    if (total > MAX_RW) io.v[i].len -= total - MAX_RW, total = MAX_RW;
  }
  return {};
}

net::Creds creds_now() { return current_creds(); }

// SCM_RIGHTS and SCM_CREDENTIALS from a msghdr's control buffer (cmsg(3)):
// a header that does not fit is EINVAL, more than SCM_MAX_FD descriptors
// EINVAL, a closed one EBADF, credentials not one's own EPERM (unless
// privileged). Levels other than SOL_SOCKET are ignored, as Linux does.
Result<void> parse_control(const KMsghdr& h, net::SendMsg& m) {
  if (h.controllen == 0) return {};
  if (h.controllen > 65536) return Error::NoMemory;  // Linux: ENOBUFS above its optmem limit
  CallArray<uint8_t> buf(h.controllen);
  if (buf.failed()) return Error::NoMemory;
  TRY(UserPtr<const uint8_t>(h.control).copy_in(buf.get(), h.controllen));
  size_t off = 0;
  bool rights = false;
  while (h.controllen - off >= sizeof(KCmsghdr)) {
    KCmsghdr c;
    __builtin_memcpy(&c, buf.get() + off, sizeof c);
    if (c.len < sizeof(KCmsghdr) || c.len > h.controllen - off) return Error::Invalid;
    const uint8_t* data = buf.get() + off + sizeof(KCmsghdr);
    size_t dlen = c.len - sizeof(KCmsghdr);
    if (c.level == L_SOL_SOCKET) {
      if (c.type == L_SCM_RIGHTS) {
        size_t n = dlen / sizeof(int);
        if (rights || n == 0 || n > SCM_MAX_FD) return Error::Invalid;
        rights = true;
        TRY(m.files.reserve(n));
        for (size_t i = 0; i < n; ++i) {
          int fd;
          __builtin_memcpy(&fd, data + i * sizeof(int), sizeof fd);
          m.files[i] = TRY(get_file(Fd{fd}));
        }
      } else if (c.type == L_SCM_CREDENTIALS) {
        if (dlen != sizeof(KUcred)) return Error::Invalid;
        KUcred u;
        __builtin_memcpy(&u, data, sizeof u);
        net::Creds me = creds_now();
        // Another's ids need the capabilities Linux asks for (scm_check_creds).
        if ((u.pid != me.pid && !current_capable(L_CAP_SYS_ADMIN)) ||
            (u.uid != me.uid && !current_capable(L_CAP_SETUID)) || (u.gid != me.gid && !current_capable(L_CAP_SETGID)))
          return Error::Permission;
        m.creds = {u.pid, u.uid, u.gid};
      } else {
        return Error::Invalid;
      }
    }
    off += cmsg_align(c.len);
    if (off >= h.controllen) break;
  }
  return {};
}

// The control messages of a received message (scm_recv): credentials
// when asked for, then the descriptors, installed as new fds. What does
// not fit sets MSG_CTRUNC (descriptors that do not fit are closed).
Result<void> put_control(KMsghdr& h, net::RecvMsg& m, bool cloexec) {
  size_t used = 0;
  const size_t cap = h.controllen;
  auto put = [&](int type, const void* data, size_t len, int level = L_SOL_SOCKET) -> Result<void> {
    size_t need = sizeof(KCmsghdr) + len;
    if (cap - used < need) {
      h.flags |= int32_t(L_MSG_CTRUNC);
      return {};
    }
    KCmsghdr c{need, level, type};
    TRY(UserPtr<uint8_t>(h.control + used).copy_out(reinterpret_cast<const uint8_t*>(&c), sizeof c));
    TRY(UserPtr<uint8_t>(h.control + used + sizeof c).copy_out(static_cast<const uint8_t*>(data), len));
    used += cmsg_align(need) < cap - used ? cmsg_align(need) : cap - used;
    return {};
  };
  if (m.want_creds) {
    KUcred u{m.creds.pid, m.creds.uid, m.creds.gid};
    TRY(put(L_SCM_CREDENTIALS, &u, sizeof u));
  }
  // sock_recv_timestamp, then ip_cmsg_recv's IP_TTL / ip6_datagram_recv_ctl's IPV6_HOPLIMIT.
  if (m.stamp_ns) {
    const int64_t tv[2] = {int64_t(m.stamp_ns / 1000000000), int64_t(m.stamp_ns % 1000000000 / 1000)};
    TRY(put(L_SO_TIMESTAMP, tv, sizeof tv));
  }
  if (m.ttl >= 0) {
    const int ttl = m.ttl;
    if (m.from.family == net::Family::Inet6) TRY(put(L_IPV6_HOPLIMIT, &ttl, sizeof ttl, L_SOL_IPV6));
    else TRY(put(L_IP_TTL, &ttl, sizeof ttl, L_SOL_IP));
  }
  if (m.files.size()) {
    size_t room = cap - used > sizeof(KCmsghdr) ? (cap - used - sizeof(KCmsghdr)) / sizeof(int) : 0;
    size_t n = m.files.size() < room ? m.files.size() : room;
    if (n < m.files.size()) h.flags |= int32_t(L_MSG_CTRUNC);
    if (n) {
      CallArray<int> fds_out(n);
      if (fds_out.failed()) return Error::NoMemory;
      size_t got = 0;
      for (; got < n; ++got) {
        auto fd = install_fd(m.files[got], cloexec);
        if (!fd.ok()) {
          h.flags |= int32_t(L_MSG_CTRUNC);
          break;
        }
        fds_out[got] = fd.value();
      }
      if (got) TRY(put(L_SCM_RIGHTS, fds_out.get(), got * sizeof(int)));
    }
    m.files.clear();  // the rest are closed
  }
  h.controllen = used;
  return {};
}

uint32_t net_flags(uint32_t f) {
  uint32_t r = 0;
  if (f & L_MSG_PEEK) r |= net::MsgFlags::PEEK;
  if (f & L_MSG_WAITALL) r |= net::MsgFlags::WAITALL;
  if (f & L_MSG_TRUNC) r |= net::MsgFlags::TRUNC;
  return r;
}

// One sendmsg on an open socket: the msghdr already copied in.
Result<size_t> send_one(OpenFile& f, net::Socket& s, const KMsghdr& h, uint32_t flags) {
  if (flags & L_MSG_OOB) return Error::OpNotSupported;
  if (h.iovlen > MAX_IOV) return Error::MessageSize;
  uint8_t abuf[SOCKADDR_STORAGE];
  net::Address to;
  Ctx ctx;
  bool has_to = false;
  if (h.name && h.namelen) {
    if (h.namelen > SOCKADDR_STORAGE) return Error::Invalid;
    TRY(copy_sockaddr(UserPtr<const uint8_t>(h.name), int(h.namelen), abuf));
    has_to = TRY(parse_dest(s, abuf, int(h.namelen), to, ctx));
  }
  vfs::PathContext pc = ctx.pc();
  to.at = &pc;
  IovIn io(h.iovlen);
  TRY(read_iov(io, h.iov));
  UserRanges ranges(io.v.get(), io.n);
  UserBuffer buf(ranges);
  net::SendMsg m(buf);
  m.creds = creds_now();
  TRY(parse_control(h, m));
  m.to = has_to ? &to : nullptr;
  m.flags = net_flags(flags);
  m.nonblock = nonblocking(f, flags);
  return sock_io_done(s.sendmsg(m), !(flags & L_MSG_NOSIGNAL), s.timeout(true) != 0);
}

// One recvmsg: *h is updated (namelen, controllen, flags) for the caller
// to write back.
Result<size_t> recv_one(OpenFile& f, net::Socket& s, KMsghdr& h, uint32_t flags) {
  if (flags & L_MSG_OOB) return Error::OpNotSupported;
  if (h.iovlen > MAX_IOV) return Error::MessageSize;
  if (int32_t(h.namelen) < 0) return Error::Invalid;
  IovIn io(h.iovlen);
  TRY(read_iov(io, h.iov));
  UserRanges ranges(io.v.get(), io.n);
  UserBuffer buf(ranges);
  net::RecvMsg m(buf);
  m.flags = net_flags(flags);
  m.nonblock = nonblocking(f, flags);
  m.want_creds = TRY(s.get_option(net::SockOpt::PassCred)) != 0;
  size_t n = TRY(sock_io_done(s.recvmsg(m), false, s.timeout(false) != 0));
  h.flags = (m.out_flags & net::MsgFlags::TRUNC) ? int32_t(L_MSG_TRUNC) : 0;
  if (h.name) {
    // The sender's name; msg_namelen is its real length.
    uint8_t out[SUN_PATH_OFF + net::MAX_ADDRESS + 1];
    size_t len = m.from.len ? encode_sockaddr(m.from, out) : 0;
    size_t copy = h.namelen < len ? h.namelen : len;
    if (copy) TRY(UserPtr<uint8_t>(h.name).copy_out(out, copy));
    h.namelen = uint32_t(len);
  } else {
    h.namelen = 0;
  }
  if (h.control || m.files.size()) TRY(put_control(h, m, flags & L_MSG_CMSG_CLOEXEC));
  else h.controllen = 0;
  return n;
}

Result<void> write_back(UserPtr<KMsghdr> u, const KMsghdr& h) {
  TRY(u.cast<uint8_t>().offset(offsetof(KMsghdr, namelen)).cast<uint32_t>().write(h.namelen));
  TRY(u.cast<uint8_t>().offset(offsetof(KMsghdr, controllen)).cast<uint64_t>().write(h.controllen));
  return u.cast<uint8_t>().offset(offsetof(KMsghdr, flags)).cast<int32_t>().write(h.flags);
}

Result<Fd> do_accept(Fd fd, UserPtr<uint8_t> addr, UserPtr<int> addrlen, int flags) {
  if (flags & ~(L_SOCK_NONBLOCK | L_SOCK_CLOEXEC)) return Error::Invalid;
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  net::SocketRef c = TRY(restart(s->accept(f->flags() & OpenFile::NONBLOCK), s->timeout(false) != 0));
  if (addr) {
    net::Address a;
    TRY(c->peer_name(a));
    TRY(put_sockaddr(a, addr, addrlen, false));  // the connection is dropped on EFAULT, as on Linux
  }
  return install_socket(static_cast<net::SocketRef&&>(c), flags);
}

Result<void> do_name(Fd fd, UserPtr<uint8_t> addr, UserPtr<int> addrlen, bool peer) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  net::Address a;
  if (peer) TRY(s->peer_name(a));
  else TRY(s->name(a));
  return put_sockaddr(a, addr, addrlen, false);
}

// setsockopt SO_SNDBUF/SO_RCVBUF (socket(7)): the value is doubled for
// the kernel's bookkeeping, capped at the maximum first (FORCE: not
// capped), and floored.
int buffer_size(int val, bool force, int floor) {
  uint32_t v = uint32_t(val);
  if (!force && v > uint32_t(BUF_MAX)) v = BUF_MAX;
  if (v > uint32_t(INT32_MAX / 2)) v = INT32_MAX / 2;
  int r = int(v) * 2;
  return r < floor ? floor : r;
}

int linux_type(net::SockType t) {
  switch (t) {
    case net::SockType::Stream: return L_SOCK_STREAM;
    case net::SockType::Dgram: return L_SOCK_DGRAM;
    case net::SockType::SeqPacket: return L_SOCK_SEQPACKET;
    case net::SockType::Raw: return L_SOCK_RAW;
  }
  return 0;
}

}  // namespace

net::Creds current_creds() {
  Process* p = current_process();
  return {p ? int32_t(p->pid) : 0, current_euid(), current_egid()};
}

bool is_socket(vfs::Vnode& v) { return v.kind() == &SOCKET_KIND; }

// net.ipv4.ping_group_range: the groups that may open ping sockets, low
// in the high 32 bits. Linux's own default is "1 0" (nobody); Capsule
// starts with systemd's "0 2147483647" (sysctl.d/50-default.conf), what a
// Debian system has.
constexpr uint32_t GID_T_MAX = 0x7fffffff;
static std::atomic<uint64_t> g_ping_groups{GID_T_MAX};

// ping_init_sock: the caller's egid or one of its supplementary groups in
// the range, else EACCES.
static bool ping_group_allowed() {
  const uint64_t r = g_ping_groups.load(std::memory_order_relaxed);
  const uint32_t lo = uint32_t(r >> 32), hi = uint32_t(r);
  Creds& c = cur_creds();
  SpinGuard g(c.lock);
  if (lo <= c.egid && c.egid <= hi) return true;
  for (int64_t i = 0; i < c.ngroups; ++i)
    if (lo <= c.groups[i] && c.groups[i] <= hi) return true;
  return false;
}

namespace proc {
Result<void> show_ping_group_range(uint64_t, Text& out) {
  const uint64_t r = g_ping_groups.load(std::memory_order_relaxed);
  out.f("{}\t{}\n", uint32_t(r >> 32), uint32_t(r));
  return {};
}
// proc_dointvec_minmax over two ints in [0, GID_T_MAX] (EINVAL outside),
// then ipv4_ping_group_range: high below low is the empty "1 0".
Result<void> store_ping_group_range(uint64_t, StringView data) {
  uint64_t v[2];
  size_t i = 0;
  for (int k = 0; k < 2; ++k) {
    while (i < data.size() && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n')) ++i;
    if (i == data.size() || data[i] < '0' || data[i] > '9') return Error::Invalid;
    v[k] = 0;
    while (i < data.size() && data[i] >= '0' && data[i] <= '9') {
      v[k] = v[k] * 10 + uint64_t(data[i++] - '0');
      if (v[k] > GID_T_MAX) return Error::Invalid;
    }
  }
  while (i < data.size() && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n')) ++i;
  if (i != data.size()) return Error::Invalid;
  if (v[1] < v[0]) v[0] = 1, v[1] = 0;
  g_ping_groups.store(v[0] << 32 | v[1], std::memory_order_relaxed);
  return {};
}
}  // namespace proc

DEFINE_SYSCALL(41, socket, Result<Fd>, int domain, int type, int protocol) {
  int flags;
  bool icmp = false;
  net::SockType t = TRY(check_socket_args(domain, type, protocol, &flags, &icmp));
  if (icmp && t == net::SockType::Dgram && !ping_group_allowed()) return Error::AccessDenied;
  net::SocketRef s = domain == L_AF_INET      ? TRY(net::inet_socket(t, net::Family::Inet, icmp))
                     : domain == L_AF_INET6   ? TRY(net::inet_socket(t, net::Family::Inet6, icmp))
                     : domain == L_AF_NETLINK ? TRY(netlink_socket(type & L_SOCK_TYPE_MASK, protocol))
                                              : TRY(net::unix_socket(t));
  return install_socket(static_cast<net::SocketRef&&>(s), flags);
}

DEFINE_SYSCALL(53, socketpair, Result<void>, int domain, int type, int protocol, UserPtr<int> sv) {
  int flags;
  net::SockType t = TRY(check_socket_args(domain, type, protocol, &flags));
  if (domain != L_AF_UNIX) return Error::OpNotSupported;  // inet_create's sock_no_socketpair
  net::SocketRef a, b;
  TRY(net::unix_socketpair(t, creds_now(), &a, &b));
  const Fd fa = TRY(install_socket(static_cast<net::SocketRef&&>(a), flags));
  auto fb = install_socket(static_cast<net::SocketRef&&>(b), flags);
  if (!fb.ok()) {
    (void)fds().close(fa);
    return fb.error();
  }
  const int out[2] = {fa, fb.value()};
  if (!sv.copy_out(out, 2).ok()) {
    (void)fds().close(out[0]);
    (void)fds().close(out[1]);
    return Error::Fault;
  }
  return {};
}

DEFINE_SYSCALL(49, bind, Result<void>, Fd fd, UserPtr<const uint8_t> addr, int addrlen) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  uint8_t buf[SOCKADDR_STORAGE];
  TRY(copy_sockaddr(addr, addrlen, buf));
  net::Address a;
  Ctx ctx;
  if (s->family() == net::Family::Inet) {
    // inet_bind: AF_UNSPEC is accepted for INADDR_ANY only.
    TRY(parse_inet(buf, addrlen, a, true));
    if ((buf[0] | buf[1] << 8) == L_AF_UNSPEC && !net::inet_ip(a).any()) return Error::FamilyNotSupported;
    return s->bind(a);
  }
  if (s->family() == net::Family::Inet6) {
    TRY(parse_inet6(buf, addrlen, a));  // inet6_bind: no AF_UNSPEC, no AF_INET
    return s->bind(a);
  }
  if (s->family() == net::Family::Netlink) {
    TRY(parse_netlink_addr(buf, size_t(addrlen), a));
    return s->bind(a);
  }
  if (size_t(addrlen) == SUN_PATH_OFF && (buf[0] | buf[1] << 8) == L_AF_UNIX) {
    a.len = 0;  // autobind: an abstract name of the kernel's choosing
  } else {
    TRY(parse_unix(buf, addrlen, a, ctx));
  }
  vfs::PathContext pc = ctx.pc();
  a.at = &pc;
  a.create.mode = 0777 & ~current_umask();
  a.create.uid = current_fsuid();
  a.create.gid = current_fsgid();
  return s->bind(a);
}

DEFINE_SYSCALL(50, listen, Result<void>, Fd fd, int backlog) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  return s->listen(backlog, creds_now());
}

DEFINE_SYSCALL(43, accept, Result<Fd>, Fd fd, UserPtr<uint8_t> addr, UserPtr<int> addrlen) {
  return do_accept(fd, addr, addrlen, 0);
}

DEFINE_SYSCALL(288, accept4, Result<Fd>, Fd fd, UserPtr<uint8_t> addr, UserPtr<int> addrlen, Flags<int> flags) {
  return do_accept(fd, addr, addrlen, flags);
}

DEFINE_SYSCALL(42, connect, Result<void>, Fd fd, UserPtr<const uint8_t> addr, int addrlen) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  uint8_t buf[SOCKADDR_STORAGE];
  TRY(copy_sockaddr(addr, addrlen, buf));
  net::Address a;
  Ctx ctx;
  if (s->family() == net::Family::Inet) {
    // inet_dgram_connect / inet_stream_connect: AF_UNSPEC disconnects
    // (an empty Address), a short address is EINVAL.
    if (addrlen < int(sizeof(uint16_t))) return Error::Invalid;
    if ((buf[0] | buf[1] << 8) != L_AF_UNSPEC) TRY(parse_inet(buf, addrlen, a, false));
    return restart(s->connect(a, f->flags() & OpenFile::NONBLOCK, creds_now()), s->timeout(true) != 0);
  }
  if (s->family() == net::Family::Inet6) {
    if (addrlen < int(sizeof(uint16_t))) return Error::Invalid;
    const int fam = buf[0] | buf[1] << 8;
    if (fam == L_AF_INET && s->type() == net::SockType::Dgram) {
      // ip6_datagram_connect: an AF_INET address connects over IPv4
      // (EAFNOSUPPORT on a V6ONLY socket).
      if (TRY(s->get_option(net::SockOpt::V6Only))) return Error::FamilyNotSupported;
      TRY(parse_inet(buf, addrlen, a, false));
    } else if (fam != L_AF_UNSPEC) {
      TRY(parse_inet6(buf, addrlen, a));
    }
    return restart(s->connect(a, f->flags() & OpenFile::NONBLOCK, creds_now()), s->timeout(true) != 0);
  }
  if (s->family() == net::Family::Netlink) {
    // netlink_connect: AF_UNSPEC dissolves the association.
    if (addrlen < int(sizeof(uint16_t))) return Error::Invalid;
    if ((buf[0] | buf[1] << 8) != L_AF_UNSPEC) TRY(parse_netlink_addr(buf, size_t(addrlen), a));
    return s->connect(a, false, creds_now());
  }
  if (s->type() == net::SockType::Dgram) {
    // unix_dgram_connect: AF_UNSPEC dissolves the association.
    if (size_t(addrlen) < sizeof(uint16_t)) return Error::Invalid;
    if ((buf[0] | buf[1] << 8) != L_AF_UNSPEC) TRY(parse_unix(buf, addrlen, a, ctx));
  } else {
    TRY(parse_unix(buf, addrlen, a, ctx));
  }
  vfs::PathContext pc = ctx.pc();
  a.at = &pc;
  return restart(s->connect(a, f->flags() & OpenFile::NONBLOCK, creds_now()), s->timeout(true) != 0);
}

DEFINE_SYSCALL(48, shutdown, Result<void>, Fd fd, int how) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  switch (how) {
    case L_SHUT_RD: return s->shutdown(net::Shut::Read);
    case L_SHUT_WR: return s->shutdown(net::Shut::Write);
    case L_SHUT_RDWR: return s->shutdown(net::Shut::Both);
    default: return Error::Invalid;
  }
}

DEFINE_SYSCALL(44, sendto, Result<size_t>, Fd fd, UserPtr<const uint8_t> buf, size_t len, Flags<int> flags,
               UserPtr<const uint8_t> addr, int addrlen) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  if (len > MAX_RW) len = MAX_RW;
  Iov one{buf.addr(), len};
  if (uint32_t(flags) & L_MSG_OOB) return Error::OpNotSupported;
  uint8_t abuf[SOCKADDR_STORAGE];
  net::Address to;
  Ctx ctx;
  bool has_to = false;
  if (addr && addrlen) {
    TRY(copy_sockaddr(addr, addrlen, abuf));
    has_to = TRY(parse_dest(*s, abuf, addrlen, to, ctx));
  }
  vfs::PathContext pc = ctx.pc();
  to.at = &pc;
  UserRanges ranges(&one, 1);
  UserBuffer ub(ranges);
  net::SendMsg m(ub);
  m.creds = creds_now();
  m.to = has_to ? &to : nullptr;
  m.nonblock = nonblocking(*f, flags);
  return sock_io_done(s->sendmsg(m), !(uint32_t(flags) & L_MSG_NOSIGNAL), s->timeout(true) != 0);
}

DEFINE_SYSCALL(45, recvfrom, Result<size_t>, Fd fd, UserPtr<uint8_t> buf, size_t len, Flags<int> flags,
               UserPtr<uint8_t> addr, UserPtr<int> addrlen) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  if (len > MAX_RW) len = MAX_RW;
  if (uint32_t(flags) & L_MSG_OOB) return Error::OpNotSupported;
  Iov one{buf.addr(), len};
  UserRanges ranges(&one, 1);
  UserBuffer ub(ranges);
  net::RecvMsg m(ub);
  m.flags = net_flags(flags);
  m.nonblock = nonblocking(*f, flags);
  size_t n = TRY(sock_io_done(s->recvmsg(m), false, s->timeout(false) != 0));
  if (addr) TRY(put_sockaddr(m.from, addr, addrlen, true));
  return n;
}

DEFINE_SYSCALL(46, sendmsg, Result<size_t>, Fd fd, UserPtr<const KMsghdr> msg, Flags<int> flags) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  const KMsghdr h = TRY(msg.read());
  return send_one(*f, *s, h, flags);
}

DEFINE_SYSCALL(47, recvmsg, Result<size_t>, Fd fd, UserPtr<KMsghdr> msg, Flags<int> flags) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  KMsghdr h = TRY(msg.read());
  size_t n = TRY(recv_one(*f, *s, h, flags));
  TRY(write_back(msg, h));
  return n;
}

// sendmmsg(2): as many as go; an error only when the first fails.
DEFINE_SYSCALL(307, sendmmsg, Result<int>, Fd fd, UserPtr<KMmsghdr> vec, unsigned vlen, Flags<int> flags) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  if (vlen > MAX_IOV) vlen = MAX_IOV;
  unsigned i = 0;
  for (; i < vlen; ++i) {
    auto h = vec.offset(i).read();
    Result<size_t> r = h.ok() ? send_one(*f, *s, h.value().hdr, flags) : Result<size_t>(h.error());
    if (!r.ok()) {
      if (i == 0) return r.error();
      break;
    }
    auto w = vec.offset(i).cast<uint8_t>().offset(offsetof(KMmsghdr, len)).cast<uint32_t>().write(uint32_t(r.value()));
    if (!w.ok()) {
      if (i == 0) return w.error();
      break;
    }
  }
  return int(i);
}

// recvmmsg(2): MSG_WAITFORONE makes every receive after the first
// non-blocking; the timeout, as on Linux, is checked between messages only.
DEFINE_SYSCALL(299, recvmmsg, Result<int>, Fd fd, UserPtr<KMmsghdr> vec, unsigned vlen, Flags<int> flags,
               UserPtr<const KTimespec> timeout) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  uint64_t deadline = 0;
  if (timeout) {
    KTimespec t = TRY(timeout.read());
    if (t.sec < 0 || t.nsec < 0 || t.nsec >= int64_t(NS_PER_SEC)) return Error::Invalid;
    deadline = uptime_ns() + uint64_t(t.sec) * NS_PER_SEC + uint64_t(t.nsec);
  }
  if (vlen > MAX_IOV) vlen = MAX_IOV;
  uint32_t fl = uint32_t(flags);
  unsigned i = 0;
  for (; i < vlen; ++i) {
    auto h = vec.offset(i).read();
    if (!h.ok()) {
      if (i == 0) return h.error();
      break;
    }
    KMsghdr hdr = h.value().hdr;
    auto r = recv_one(*f, *s, hdr, fl);
    if (!r.ok()) {
      if (i == 0) return r.error();
      break;
    }
    auto w = write_back(vec.offset(i).cast<KMsghdr>(), hdr);
    auto wl = vec.offset(i).cast<uint8_t>().offset(offsetof(KMmsghdr, len)).cast<uint32_t>().write(uint32_t(r.value()));
    if (!w.ok() || !wl.ok()) {
      if (i == 0) return Error::Fault;
      break;
    }
    if (fl & L_MSG_WAITFORONE) fl |= L_MSG_DONTWAIT;
    if (deadline && uptime_ns() >= deadline) {
      ++i;
      break;
    }
  }
  return int(i);
}

DEFINE_SYSCALL(51, getsockname, Result<void>, Fd fd, UserPtr<uint8_t> addr, UserPtr<int> addrlen) {
  return do_name(fd, addr, addrlen, false);
}

DEFINE_SYSCALL(52, getpeername, Result<void>, Fd fd, UserPtr<uint8_t> addr, UserPtr<int> addrlen) {
  return do_name(fd, addr, addrlen, true);
}

// SO_RCVTIMEO / SO_SNDTIMEO (sock_set_timeout): a struct timeval (the
// _NEW options' __kernel_sock_timeval has the same layout on x86-64); a
// shorter optlen is EINVAL, tv_usec outside [0, 1e6) EDOM, {0, 0} no
// timeout, a negative tv_sec a timeout that has already passed.
static Result<void> set_timeout(net::Socket& s, bool send, UserPtr<const uint8_t> optval, int optlen) {
  struct {
    int64_t sec, usec;
  } tv;
  if (size_t(optlen) < sizeof tv) return Error::Invalid;
  TRY(optval.copy_in(reinterpret_cast<uint8_t*>(&tv), sizeof tv));
  if (tv.usec < 0 || tv.usec >= 1000000) return Error::Domain;
  uint64_t ns;
  if (tv.sec < 0) ns = 1;  // Linux keeps 0 jiffies: every wait times out at once
  else if (uint64_t(tv.sec) >= UINT64_MAX / 1000000000 / 2) ns = 0;  // beyond any wait: none, as Linux's MAX_SCHEDULE_TIMEOUT
  else ns = uint64_t(tv.sec) * 1000000000 + uint64_t(tv.usec) * 1000;
  s.set_timeout(send, ns);
  return {};
}

DEFINE_SYSCALL(54, setsockopt, Result<void>, Fd fd, int level, int optname, UserPtr<const uint8_t> optval,
               int optlen) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  if (optlen < 0) return Error::Invalid;
  const bool inet = is_inet(*s);
  if (s->family() == net::Family::Netlink && level != L_SOL_SOCKET) {
    // netlink_setsockopt: its own level only; a value shorter than an int is 0.
    if (level != L_SOL_NETLINK) return Error::NoProtoOpt;
    int nv = 0;
    if (size_t(optlen) >= sizeof(int)) nv = TRY(optval.cast<const int>().read());
    return netlink_setsockopt(*s, optname, nv);
  }
  if (level != L_SOL_SOCKET && !inet) return Error::OpNotSupported;  // unix sockets have no other level
  if (level == L_SOL_TCP && optname == L_TCP_CONGESTION && s->type() == net::SockType::Stream) {
    // do_tcp_setsockopt: a name of at most 15 bytes (longer is cut), not
    // necessarily NUL-terminated; an unknown one is ENOENT.
    if (optlen < 1) return Error::Invalid;
    char name[L_TCP_CA_NAME_MAX] = {};
    size_t n = size_t(optlen) < L_TCP_CA_NAME_MAX - 1 ? size_t(optlen) : L_TCP_CA_NAME_MAX - 1;
    TRY(optval.cast<const char>().copy_in(name, n));
    for (int i = 0; i < int(sizeof CC_NAMES / sizeof *CC_NAMES); ++i)
      if (StringView(name, __builtin_strlen(name)) == StringView(CC_NAMES[i])) return s->set_option(net::SockOpt::Congestion, i);
    return Error::NotFound;
  }
  if (level == L_SOL_SOCKET && (optname == L_SO_RCVTIMEO || optname == L_SO_SNDTIMEO ||
                                optname == L_SO_RCVTIMEO_NEW || optname == L_SO_SNDTIMEO_NEW))
    return set_timeout(*s, optname == L_SO_SNDTIMEO || optname == L_SO_SNDTIMEO_NEW, optval, optlen);
  if ((level == L_SOL_RAW && optname == L_ICMP_FILTER && s->family() == net::Family::Inet) ||
      (level == L_SOL_ICMPV6 && optname == L_ICMP6_FILTER && s->family() == net::Family::Inet6)) {
    // raw_seticmpfilter / rawv6_seticmpfilter: a longer value is cut, a
    // shorter one sets its first bytes; not a raw ICMP socket: EOPNOTSUPP
    // (IPv4) or ENOPROTOOPT (IPv6's level is ipv6_setsockopt's there).
    if (s->type() != net::SockType::Raw) return s->family() == net::Family::Inet ? Error::OpNotSupported : Error::NoProtoOpt;
    uint32_t w[8] = {};
    const size_t cap = s->family() == net::Family::Inet ? 4 : 32;
    TRY(s->filter(w, 8));
    size_t n = size_t(optlen) < cap ? size_t(optlen) : cap;
    if (n) TRY(optval.copy_in(reinterpret_cast<uint8_t*>(w), n));
    return s->set_filter(w, cap / 4);
  }
  if (size_t(optlen) < sizeof(int)) return Error::Invalid;
  const int v = TRY(optval.cast<const int>().read());
  if (s->type() == net::SockType::Raw && s->family() == net::Family::Inet6 && optname == L_IPV6_CHECKSUM &&
      (level == L_SOL_RAW || level == L_SOL_IPV6)) {
    // do_rawv6_setsockopt: not at SOL_IPV6 on an ICMPv6 socket (EINVAL).
    if (level == L_SOL_IPV6) return Error::Invalid;
    return s->set_option(net::SockOpt::ChecksumOffset, v);
  }
  if (level == L_SOL_IP) {
    switch (optname) {
      case L_IP_RECVERR: return s->set_option(net::SockOpt::RecvErr, v != 0);
      case L_IP_RECVTTL: return s->set_option(net::SockOpt::RecvTtl, v != 0);
      case L_IP_RETOPTS: return s->set_option(net::SockOpt::RetOpts, v != 0);
      case L_IP_TTL:
        // ip(7): 1..255, or -1 for the default.
        if (v == -1) return s->set_option(net::SockOpt::Ttl, 64);
        if (v < 1 || v > 255) return Error::Invalid;
        return s->set_option(net::SockOpt::Ttl, v);
      case L_IP_TOS: return s->set_option(net::SockOpt::Tos, v & 0xff);
      default: return Error::NoProtoOpt;
    }
  }
  if (level == L_SOL_IPV6) {
    // ipv6_setsockopt: an AF_INET socket has no SOL_IPV6.
    if (s->family() != net::Family::Inet6) return Error::NoProtoOpt;
    switch (optname) {
      case L_IPV6_V6ONLY: return s->set_option(net::SockOpt::V6Only, v != 0);
      case L_IPV6_RECVERR: return s->set_option(net::SockOpt::RecvErr, v != 0);
      case L_IPV6_RECVHOPLIMIT: return s->set_option(net::SockOpt::RecvTtl, v != 0);
      case L_IPV6_UNICAST_HOPS:
        // -1 the default, else 0..255. The hop limit and IP_TTL are one value here.
        if (v < -1 || v > 255) return Error::Invalid;
        return s->set_option(net::SockOpt::Ttl, v == -1 ? 64 : v);
      case L_IPV6_TCLASS:
        if (v < -1 || v > 255) return Error::Invalid;
        return s->set_option(net::SockOpt::Tos, v == -1 ? 0 : v);
      default: return Error::NoProtoOpt;
    }
  }
  if (level == L_SOL_TCP) {
    if (s->type() != net::SockType::Stream) return Error::NoProtoOpt;  // ip_setsockopt: not SOL_IP
    switch (optname) {
      case L_TCP_NODELAY: return s->set_option(net::SockOpt::NoDelay, v != 0);
      case L_TCP_CORK: return s->set_option(net::SockOpt::Cork, v != 0);
      case L_TCP_MAXSEG:
        if (v < 88 || v > 65535) return Error::Invalid;  // TCP_MIN_MSS .. MAX_TCP_WINDOW
        return s->set_option(net::SockOpt::MaxSeg, v);
      case L_TCP_KEEPIDLE:
      case L_TCP_KEEPINTVL:
        if (v < 1 || v > 32767) return Error::Invalid;  // MAX_TCP_KEEPIDLE / KEEPINTVL
        return s->set_option(optname == L_TCP_KEEPIDLE ? net::SockOpt::KeepIdle : net::SockOpt::KeepIntvl, v);
      case L_TCP_KEEPCNT:
        if (v < 1 || v > 127) return Error::Invalid;  // MAX_TCP_KEEPCNT
        return s->set_option(net::SockOpt::KeepCnt, v);
      default: return Error::NoProtoOpt;
    }
  }
  if (level != L_SOL_SOCKET) return Error::NoProtoOpt;
  if (optname == L_SO_LINGER) {
    if (size_t(optlen) < 2 * sizeof(int)) return Error::Invalid;
    int l[2];
    TRY(optval.cast<const int>().copy_in(l, 2));
    return s->set_option(net::SockOpt::Linger, l[0] ? (l[1] < 0 ? 0 : l[1]) : -1);
  }
  switch (optname) {
    case L_SO_REUSEPORT: return s->set_option(net::SockOpt::ReusePort, v);
    case L_SO_BROADCAST: return s->set_option(net::SockOpt::Broadcast, v);
    case L_SO_SNDBUF:
    case L_SO_SNDBUFFORCE: return s->set_option(net::SockOpt::SndBuf, buffer_size(v, optname == L_SO_SNDBUFFORCE, MIN_SNDBUF));
    case L_SO_RCVBUF:
    case L_SO_RCVBUFFORCE: return s->set_option(net::SockOpt::RcvBuf, buffer_size(v, optname == L_SO_RCVBUFFORCE, MIN_RCVBUF));
    case L_SO_PASSCRED: return s->set_option(net::SockOpt::PassCred, v);
    case L_SO_REUSEADDR: return s->set_option(net::SockOpt::ReuseAddr, v);
    case L_SO_KEEPALIVE: return s->set_option(net::SockOpt::KeepAlive, v);
    case L_SO_TIMESTAMP: return s->set_option(net::SockOpt::Timestamp, v != 0);
    default: return Error::NoProtoOpt;
  }
}

DEFINE_SYSCALL(55, getsockopt, Result<void>, Fd fd, int level, int optname, UserPtr<uint8_t> optval,
               UserPtr<int> optlen) {
  net::Socket* s;
  vfs::FileRef f = TRY(socket_file(fd, &s));
  const bool inet = is_inet(*s);
  const bool netlink = s->family() == net::Family::Netlink;
  if (level != L_SOL_SOCKET && !inet && !netlink) return Error::OpNotSupported;
  int len = TRY(optlen.read());
  if (len < 0) return Error::Invalid;
  uint8_t out[16];  // the largest: SO_RCVTIMEO's struct timeval
  static_assert(sizeof(KUcred) <= sizeof out);
  size_t n = sizeof(int);
  int v = 0;
  if (netlink && level != L_SOL_SOCKET) {
    // netlink_getsockopt: an int; a shorter buffer is EINVAL.
    if (level != L_SOL_NETLINK) return Error::NoProtoOpt;
    if (size_t(len) < sizeof(int)) return Error::Invalid;
    v = TRY(netlink_getsockopt(*s, optname));
    TRY(optval.cast<int>().write(v));
    return optlen.write(int(sizeof(int)));
  }
  if (level == L_SOL_TCP && optname == L_TCP_INFO && s->type() == net::SockType::Stream) {
    // struct tcp_info (include/uapi/linux/tcp.h): the fields Capsule keeps,
    // the rest 0; min(len, its size) bytes, as tcp_getsockopt.
    net::TcpInfo ti;
    TRY(s->tcp_info(ti));
    uint8_t b[L_TCP_INFO_SIZE] = {};
    b[0] = ti.state, b[1] = ti.ca_state, b[2] = ti.retransmits, b[4] = ti.backoff;
    b[5] = uint8_t((ti.ts ? 1 : 0) | (ti.sack ? 2 : 0) | (ti.wscale ? 4 : 0));  // TCPI_OPT_*
    b[6] = uint8_t((ti.snd_wscale & 0xf) | (ti.rcv_wscale << 4));
    auto put = [&](size_t off, uint32_t v) { __builtin_memcpy(b + off, &v, 4); };
    put(8, ti.rto_us);
    put(12, 40000);  // tcpi_ato: the delayed-ACK timeout
    put(16, ti.snd_mss), put(20, ti.rcv_mss), put(24, ti.unacked), put(28, ti.sacked);
    put(64, 0), put(68, ti.rtt_us), put(72, ti.rttvar_us), put(76, ti.snd_ssthresh), put(80, ti.snd_cwnd);
    put(84, ti.advmss), put(88, 3), put(100, ti.total_retrans);  // tcpi_reordering: the initial 3
    size_t n = size_t(len) < sizeof b ? size_t(len) : sizeof b;
    if (n) TRY(optval.copy_out(b, n));
    return optlen.write(int(n));
  }
  if (level == L_SOL_TCP && optname == L_TCP_CONGESTION && s->type() == net::SockType::Stream) {
    // The name in a 16-byte field, NUL-padded; the length is min(len, 16).
    int algo = TRY(s->get_option(net::SockOpt::Congestion));
    char name[L_TCP_CA_NAME_MAX] = {};
    const char* src = CC_NAMES[algo == 0 ? 0 : 1];
    __builtin_memcpy(name, src, __builtin_strlen(src));
    size_t n = size_t(len) < L_TCP_CA_NAME_MAX ? size_t(len) : L_TCP_CA_NAME_MAX;
    if (n) TRY(optval.copy_out(reinterpret_cast<const uint8_t*>(name), n));
    return optlen.write(int(n));
  }
  if ((level == L_SOL_RAW && optname == L_ICMP_FILTER && s->family() == net::Family::Inet) ||
      (level == L_SOL_ICMPV6 && optname == L_ICMP6_FILTER && s->family() == net::Family::Inet6)) {
    if (s->type() != net::SockType::Raw) return s->family() == net::Family::Inet ? Error::OpNotSupported : Error::NoProtoOpt;
    uint32_t w[8] = {};
    const size_t cap = s->family() == net::Family::Inet ? 4 : 32;
    TRY(s->filter(w, 8));
    size_t n = size_t(len) < cap ? size_t(len) : cap;
    if (n) TRY(optval.copy_out(reinterpret_cast<const uint8_t*>(w), n));
    return optlen.write(int(n));
  }
  if (s->type() == net::SockType::Raw && s->family() == net::Family::Inet6 && optname == L_IPV6_CHECKSUM &&
      level == L_SOL_RAW) {
    v = TRY(s->get_option(net::SockOpt::ChecksumOffset));
    __builtin_memcpy(out, &v, sizeof v);
    if (size_t(len) < n) n = size_t(len);
    if (n) TRY(optval.copy_out(out, n));
    return optlen.write(int(n));
  }
  if (level == L_SOL_IP || level == L_SOL_TCP || level == L_SOL_IPV6) {
    net::SockOpt o;
    if (level == L_SOL_IPV6 && s->family() != net::Family::Inet6) return Error::NoProtoOpt;
    if (level == L_SOL_IPV6 && optname == L_IPV6_V6ONLY) o = net::SockOpt::V6Only;
    else if (level == L_SOL_IPV6 && optname == L_IPV6_UNICAST_HOPS) o = net::SockOpt::Ttl;
    else if (level == L_SOL_IPV6 && optname == L_IPV6_TCLASS) o = net::SockOpt::Tos;
    else if (level == L_SOL_IPV6 && optname == L_IPV6_RECVERR) o = net::SockOpt::RecvErr;
    else if (level == L_SOL_IPV6 && optname == L_IPV6_RECVHOPLIMIT) o = net::SockOpt::RecvTtl;
    else if (level == L_SOL_IPV6) return Error::NoProtoOpt;
    else if (level == L_SOL_IP && optname == L_IP_RECVERR) o = net::SockOpt::RecvErr;
    else if (level == L_SOL_IP && optname == L_IP_RECVTTL) o = net::SockOpt::RecvTtl;
    else if (level == L_SOL_IP && optname == L_IP_RETOPTS) o = net::SockOpt::RetOpts;
    else if (level == L_SOL_IP && optname == L_IP_TTL) o = net::SockOpt::Ttl;
    else if (level == L_SOL_IP && optname == L_IP_TOS) o = net::SockOpt::Tos;
    // do_ip_getsockopt: another level than SOL_IP is EOPNOTSUPP (setsockopt says ENOPROTOOPT).
    else if (level == L_SOL_TCP && s->type() != net::SockType::Stream) return Error::OpNotSupported;
    else if (level == L_SOL_TCP && optname == L_TCP_NODELAY) o = net::SockOpt::NoDelay;
    else if (level == L_SOL_TCP && optname == L_TCP_CORK) o = net::SockOpt::Cork;
    else if (level == L_SOL_TCP && optname == L_TCP_MAXSEG) o = net::SockOpt::MaxSeg;
    else if (level == L_SOL_TCP && optname == L_TCP_KEEPIDLE) o = net::SockOpt::KeepIdle;
    else if (level == L_SOL_TCP && optname == L_TCP_KEEPINTVL) o = net::SockOpt::KeepIntvl;
    else if (level == L_SOL_TCP && optname == L_TCP_KEEPCNT) o = net::SockOpt::KeepCnt;
    else return Error::NoProtoOpt;
    v = TRY(s->get_option(o));
    __builtin_memcpy(out, &v, sizeof v);
    if (size_t(len) < n) n = size_t(len);
    if (n) TRY(optval.copy_out(out, n));
    return optlen.write(int(n));
  }
  if (level != L_SOL_SOCKET) return Error::NoProtoOpt;
  switch (optname) {
    case L_SO_TYPE: v = netlink ? netlink_sock_type(*s) : linux_type(s->type()); break;
    case L_SO_DOMAIN:
      v = s->family() == net::Family::Inet6 ? L_AF_INET6 : inet ? L_AF_INET : netlink ? L_AF_NETLINK : L_AF_UNIX;
      break;
    case L_SO_PROTOCOL:
      v = netlink ? netlink_protocol(*s) : !inet ? 0 : s->protocol() ? s->protocol() : s->type() == net::SockType::Stream ? L_IPPROTO_TCP : L_IPPROTO_UDP;
      break;
    case L_SO_REUSEPORT: v = TRY(s->get_option(net::SockOpt::ReusePort)); break;
    case L_SO_BROADCAST: v = TRY(s->get_option(net::SockOpt::Broadcast)); break;
    case L_SO_LINGER: {
      int l = TRY(s->get_option(net::SockOpt::Linger));
      int pair[2] = {l >= 0 ? 1 : 0, l >= 0 ? l : 0};
      __builtin_memcpy(out, pair, sizeof pair);
      n = sizeof pair;
      break;
    }
    case L_SO_RCVLOWAT:
    case L_SO_SNDLOWAT: v = 1; break;
    case L_SO_RCVTIMEO:
    case L_SO_SNDTIMEO:
    case L_SO_RCVTIMEO_NEW:
    case L_SO_SNDTIMEO_NEW: {
      // sock_get_timeout: {0, 0} for none; a passed one (negative) reads 0 too.
      uint64_t ns = s->timeout(optname == L_SO_SNDTIMEO || optname == L_SO_SNDTIMEO_NEW);
      int64_t tv[2] = {int64_t(ns / 1000000000), int64_t(ns % 1000000000 / 1000)};
      __builtin_memcpy(out, tv, sizeof tv);
      n = sizeof tv;
      break;
    }
    case L_SO_ERROR: {
      int e = TRY(s->get_option(net::SockOpt::Error));
      v = errno_of(Error(e));
      break;
    }
    case L_SO_SNDBUF: v = TRY(s->get_option(net::SockOpt::SndBuf)); break;
    case L_SO_RCVBUF: v = TRY(s->get_option(net::SockOpt::RcvBuf)); break;
    case L_SO_PASSCRED: v = TRY(s->get_option(net::SockOpt::PassCred)); break;
    case L_SO_REUSEADDR: v = TRY(s->get_option(net::SockOpt::ReuseAddr)); break;
    case L_SO_KEEPALIVE: v = TRY(s->get_option(net::SockOpt::KeepAlive)); break;
    case L_SO_TIMESTAMP: v = TRY(s->get_option(net::SockOpt::Timestamp)); break;
    case L_SO_ACCEPTCONN: v = TRY(s->get_option(net::SockOpt::AcceptConn)); break;
    case L_SO_PEERCRED: {
      net::Creds c = TRY(s->peer_creds());
      KUcred u{c.pid, c.uid, c.gid};
      __builtin_memcpy(out, &u, sizeof u);
      n = sizeof u;
      break;
    }
    default: return Error::NoProtoOpt;
  }
  if (n == sizeof(int)) __builtin_memcpy(out, &v, sizeof v);  // SO_LINGER's pair is written already
  if (size_t(len) < n) n = size_t(len);
  if (n) TRY(optval.copy_out(out, n));
  return optlen.write(int(n));
}

}  // namespace capsule::linux_abi
