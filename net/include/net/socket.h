#pragma once
// The socket interface (docs/net.md): what every address family implements
// (AF_UNIX today, AF_INET later) and what linux/sys_socket.cc calls.
//
// A Socket is a Pollable (poll/select/epoll wait on it) with an intrusive
// reference count. linux/ wraps it in a descriptor object (a stream vnode
// that fstat reports as S_IFSOCK) and translates Linux's structures, flags
// and errno at the boundary; nothing here knows them. Operations a family
// does not have fail with OpNotSupported (EOPNOTSUPP), as Linux's
// sock_no_* do.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/io_buffer.h"
#include "core/poll.h"
#include "fs/file.h"
#include "fs/vfs.h"
#include "lib/ref_ptr.h"
#include "lib/result.h"

namespace capsule::net {

// Netlink's sockets are linux/'s (linux/netlink.h): its messages are
// Linux's own structures.
enum class Family : uint8_t { Unix, Inet, Inet6, Netlink };
enum class SockType : uint8_t { Stream, Dgram, SeqPacket, Raw };

// Who sent or connected (SO_PEERCRED, SCM_CREDENTIALS).
struct Creds {
  int32_t pid = 0;
  uint32_t uid = UINT32_MAX, gid = UINT32_MAX;  // -1: nobody (never connected)
};

inline constexpr size_t MAX_ADDRESS = 108;  // the longest name of any family (AF_UNIX's sun_path)

// A socket address in the family's own form. AF_UNIX: `data` is the path
// (no NUL) or, for an abstract name, a NUL followed by the name's bytes;
// len 0 is unnamed. A path is walked from `at` (bind and connect; bind
// creates the socket inode with `create`'s mode and owner).
struct Address {
  Family family = Family::Unix;
  uint16_t len = 0;
  uint8_t data[MAX_ADDRESS] = {};
  const vfs::PathContext* at = nullptr;
  vfs::CreateArgs create;

  bool abstract() const { return len && data[0] == 0; }
};

// Message flags (Capsule's own bits; linux/ maps MSG_*).
struct MsgFlags {
  static constexpr uint32_t PEEK = 1 << 0;      // leave the data queued
  static constexpr uint32_t WAITALL = 1 << 1;   // stream: block until the buffer is full
  static constexpr uint32_t TRUNC = 1 << 2;     // in: return a datagram's real length; out: it was cut
  static constexpr uint32_t CTRUNC = 1 << 3;    // out: descriptors did not fit
};

// A list of open files in flight (SCM_RIGHTS). Owns its references: a
// message dropped unread closes what it carried.
class FileList {
 public:
  FileList() = default;
  FileList(const FileList&) = delete;
  FileList& operator=(const FileList&) = delete;
  FileList(FileList&& o) : files_(o.files_), n_(o.n_) { o.files_ = nullptr, o.n_ = 0; }
  FileList& operator=(FileList&& o);
  ~FileList() { clear(); }

  // Room for n references (all empty). NoMemory.
  Result<void> reserve(size_t n);
  vfs::FileRef& operator[](size_t i) { return files_[i]; }
  size_t size() const { return n_; }
  void clear();

 private:
  vfs::FileRef* files_ = nullptr;
  size_t n_ = 0;
};

struct SendMsg {
  explicit SendMsg(IoBuffer& d) : data(d) {}
  IoBuffer& data;
  const Address* to = nullptr;  // sendto's address (nullptr: the peer)
  FileList files;               // SCM_RIGHTS, taken by the message
  Creds creds;                  // the sender (SCM_CREDENTIALS or the caller's own)
  uint32_t flags = 0;           // MsgFlags
  bool nonblock = false;
};

struct RecvMsg {
  explicit RecvMsg(IoBuffer& d) : data(d) {}
  IoBuffer& data;
  uint32_t flags = 0;  // in: MsgFlags
  bool nonblock = false;
  bool want_creds = false;  // out: creds is set (SO_PASSCRED)
  // Out.
  uint32_t out_flags = 0;  // MsgFlags::TRUNC
  Address from;            // the sender's name (len 0: unnamed)
  int ttl = -1;            // the datagram's TTL / hop limit, when the socket asked (IP_RECVTTL, IPV6_RECVHOPLIMIT)
  uint64_t stamp_ns = 0;   // its arrival (realtime), when the socket asked (SO_TIMESTAMP)
  FileList files;          // SCM_RIGHTS received
  Creds creds;
};

// Options (SOL_SOCKET's, then IP's and TCP's, in Capsule's names). Linger
// is -1 when off, else the seconds; a family answers NoProtoOpt for the
// ones it does not have.
enum class SockOpt : uint8_t {
  Type, Error, SndBuf, RcvBuf, PassCred, AcceptConn, Domain, Protocol, ReuseAddr, KeepAlive,
  ReusePort, Broadcast, Linger, Ttl, Tos, NoDelay, MaxSeg, KeepIdle, KeepIntvl, KeepCnt,
  Congestion,  // TCP_CONGESTION: 0 reno, 1 cubic (net/inet/tcp_cc.h's CcAlgo)
  Cork,        // TCP_CORK: hold partial segments (at most 200 ms)
  V6Only,      // IPV6_V6ONLY: an AF_INET6 socket takes IPv6 only (set before bind)
  RecvErr,     // IP_RECVERR / IPV6_RECVERR (ICMP sockets: kept, no error queue)
  RecvTtl,     // IP_RECVTTL / IPV6_RECVHOPLIMIT: RecvMsg::ttl (ICMP sockets)
  RetOpts,     // IP_RETOPTS (ICMP sockets: kept; no IP options are ever received)
  Timestamp,   // SO_TIMESTAMP: RecvMsg::stamp_ns (ICMP sockets)
  ChecksumOffset,  // IPV6_CHECKSUM at SOL_RAW: where a raw ICMPv6 socket's checksum goes (-1: not computed)
};

// What TCP_INFO reports of a TCP connection (linux/ lays out struct
// tcp_info). Times in microseconds, windows in segments.
struct TcpInfo {
  uint8_t state = 0;       // Linux's TCP_ESTABLISHED (1) ... TCP_CLOSING (11)
  uint8_t ca_state = 0;    // 0 open, 1 disorder, 3 recovery, 4 loss
  uint8_t retransmits = 0, backoff = 0;
  bool ts = false, sack = false, wscale = false;
  uint8_t snd_wscale = 0, rcv_wscale = 0;
  uint32_t rto_us = 0, snd_mss = 0, rcv_mss = 0, unacked = 0, sacked = 0;
  uint32_t rtt_us = 0, rttvar_us = 0, snd_ssthresh = 0, snd_cwnd = 0, advmss = 0;
  uint32_t total_retrans = 0;
};

enum class Shut : uint8_t { Read = 1, Write = 2, Both = 3 };

class Socket;
using SocketRef = RefPtr<Socket>;

class Socket : public Pollable {
 public:
  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  // A reference unless the last one is already gone (a socket found in a
  // table while its destructor waits to take it out).
  bool try_retain() {
    uint32_t n = refs_.load(std::memory_order_relaxed);
    while (n && !refs_.compare_exchange_weak(n, n + 1, std::memory_order_acquire, std::memory_order_relaxed)) {
    }
    return n != 0;
  }
  void release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  virtual Family family() const = 0;
  virtual SockType type() const = 0;
  // SO_PROTOCOL where the type does not say it (ICMP's 1, ICMPv6's 58); 0 otherwise.
  virtual int protocol() const { return 0; }

  virtual Result<void> bind(const Address& a) { return Error::OpNotSupported; }
  virtual Result<void> listen(int backlog, const Creds& me) { return Error::OpNotSupported; }
  // A connection from the queue: Again when none and nonblock.
  virtual Result<SocketRef> accept(bool nonblock) { return Error::OpNotSupported; }
  virtual Result<void> connect(const Address& a, bool nonblock, const Creds& me) { return Error::OpNotSupported; }
  virtual Result<void> shutdown(Shut how) { return Error::OpNotSupported; }
  // BrokenPipe: the adapter raises SIGPIPE unless MSG_NOSIGNAL.
  virtual Result<size_t> sendmsg(SendMsg& m) = 0;
  virtual Result<size_t> recvmsg(RecvMsg& m) = 0;
  virtual Result<int> get_option(SockOpt o) = 0;
  virtual Result<void> set_option(SockOpt o, int value) = 0;
  virtual Result<Creds> peer_creds() { return Creds{}; }
  virtual Result<void> name(Address& out) = 0;
  virtual Result<void> peer_name(Address& out) = 0;
  // FIONREAD/SIOCINQ and SIOCOUTQ.
  virtual size_t bytes_readable() = 0;
  virtual size_t bytes_unsent() = 0;
  // ICMP_FILTER / ICMP6_FILTER (raw ICMP sockets): a bit set per blocked type.
  virtual Result<void> set_filter(const uint32_t* words, size_t n) { return Error::NoProtoOpt; }
  virtual Result<size_t> filter(uint32_t* out, size_t max) { return Error::NoProtoOpt; }
  // TCP_INFO (TCP only).
  virtual Result<void> tcp_info(TcpInfo&) { return Error::NoProtoOpt; }
  // The last descriptor went away: disconnect, drop queued data.
  virtual void close() = 0;

  // SO_RCVTIMEO / SO_SNDTIMEO in ns, 0 for none (block for ever). Every
  // family's blocking calls take a deadline from it when they start
  // (uptime_ns() + timeout) and give up with Again (connect: InProgress)
  // when it passes, or return what they moved by then.
  void set_timeout(bool send, uint64_t ns) { (send ? sndtimeo_ : rcvtimeo_).store(ns, std::memory_order_relaxed); }
  uint64_t timeout(bool send) const { return (send ? sndtimeo_ : rcvtimeo_).load(std::memory_order_relaxed); }

  // The descriptor's inode number (linux/ sets it; /proc/net/tcp shows it).
  void set_ino(uint64_t ino) { ino_.store(ino, std::memory_order_relaxed); }
  uint64_t ino() const { return ino_.load(std::memory_order_relaxed); }

 protected:
  Socket() = default;
  virtual ~Socket() = default;
  // The deadline a blocking call started at `now` waits until (0: none).
  uint64_t deadline(bool send, uint64_t now) const {
    uint64_t t = timeout(send);
    return t ? now + t : 0;
  }

 private:
  std::atomic<uint32_t> refs_{1};
  std::atomic<uint64_t> rcvtimeo_{0}, sndtimeo_{0}, ino_{0};
};

// A wait that reached a socket's SO_RCVTIMEO/SO_SNDTIMEO deadline is
// EAGAIN to the caller, as Linux's sock_intr_errno(0)/-EAGAIN.
inline Error timeout_is_again(Error e) { return e == Error::TimedOut ? Error::Again : e; }

}  // namespace capsule::net
