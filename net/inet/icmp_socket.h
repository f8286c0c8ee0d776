#pragma once
// ICMP sockets (docs/net.md "Ping and raw sockets"). Private to net/.
//
// Ping sockets, Linux's unprivileged ICMP (socket(AF_INET, SOCK_DGRAM,
// IPPROTO_ICMP), AF_INET6 with IPPROTO_ICMPV6): the program sends echo
// requests, the kernel puts the socket's identifier in them (the port of
// its name: bind's or an automatic one) and, for IPv4, the checksum; the
// echo replies with that identifier come back, ICMP header first. Raw
// sockets (SOCK_RAW, IPPROTO_ICMP / IPPROTO_ICMPV6; root only): the
// program writes the whole ICMP message (IPv6's checksum is the
// kernel's, RFC 3542 3.1) and reads every ICMP message that arrives (an
// IPv4 one with its IP header), less the types its ICMP_FILTER /
// ICMP6_FILTER blocks.
//
// Lock order: a socket's mu_; the table of sockets (icmp_socket.cc's
// g_lock) is a leaf: input takes references under it and delivers after.
#include "core/event/sync.h"
#include "core/event/wait.h"
#include "lib/intrusive_list.h"
#include "net/inet.h"
#include "net/inet/icmp_match.h"

namespace capsule::net {

struct IcmpMessage {
  ListNode node;
  IpAddr from;
  uint32_t scope = 0;
  uint8_t ttl = 0;         // its TTL / hop limit
  uint64_t stamp_ns = 0;   // when it came (realtime)
  size_t len = 0;
  uint8_t* data = nullptr;  // kmalloc'd
  ~IcmpMessage();
};

class IcmpSocket final : public Socket {
 public:
  static constexpr int DEFAULT_BUF = 212992;
  static constexpr size_t OVERHEAD = 768;

  IcmpSocket(Family f, bool raw) : family_(f), raw_(raw) {}
  Family family() const override { return family_; }
  SockType type() const override { return raw_ ? SockType::Raw : SockType::Dgram; }
  int protocol() const override { return family_ == Family::Inet ? 1 : 58; }
  Result<void> bind(const Address& a) override;
  Result<void> connect(const Address& a, bool nonblock, const Creds& me) override;
  Result<void> shutdown(Shut how) override;
  Result<size_t> sendmsg(SendMsg& m) override;
  Result<size_t> recvmsg(RecvMsg& m) override;
  Result<int> get_option(SockOpt o) override;
  Result<void> set_option(SockOpt o, int value) override;
  Result<void> set_filter(const uint32_t* words, size_t n) override;
  Result<size_t> filter(uint32_t* out, size_t max) override;
  Result<void> name(Address& out) override;
  Result<void> peer_name(Address& out) override;
  size_t bytes_readable() override;
  size_t bytes_unsent() override { return 0; }
  void close() override;
  uint32_t poll_events() override;

  // Input (no lock held): an ICMP message for this socket; `head`, when
  // given, goes before it (a raw IPv4 socket's IP header).
  void deliver(const IpAddr& from, uint32_t scope, uint8_t ttl, const uint8_t* head, size_t head_len,
               const uint8_t* msg, size_t len);
  // What icmp_takes needs of it (net/inet/icmp_match.h); under the table's lock.
  IcmpTaker taker() const;

  ListNode table_node;  // in the table of ICMP sockets, under its lock
  uint16_t ident = 0;   // a ping socket's identifier (its port); 0: none yet (under the table's lock)
  IpAddr bound;         // its address (:: or the v4-mapped 0.0.0.0: any), under the table's lock

 protected:
  ~IcmpSocket() override;

 private:
  Result<void> autobind();
  const Family family_;
  const bool raw_;
  Mutex mu_;
  bool connected_ GUARDED_BY(mu_) = false;
  IpAddr peer_ GUARDED_BY(mu_);
  uint32_t peer_scope_ GUARDED_BY(mu_) = 0;
  bool closed_ GUARDED_BY(mu_) = false;
  bool rcv_shut_ GUARDED_BY(mu_) = false, snd_shut_ GUARDED_BY(mu_) = false;
  IntrusiveList<IcmpMessage, &IcmpMessage::node> queue_ GUARDED_BY(mu_);
  size_t charged_ GUARDED_BY(mu_) = 0;
  // ICMP_FILTER (types 0-31) / ICMP6_FILTER (0-255): a set bit blocks the type.
  std::atomic<uint32_t> filter_[8] = {};
  std::atomic<int> sndbuf_{DEFAULT_BUF}, rcvbuf_{DEFAULT_BUF}, ttl_{64}, tos_{0};
  std::atomic<bool> recverr_{false}, recvttl_{false}, retopts_{false}, timestamp_{false};
  std::atomic<int> csum_offset_{2};  // a raw ICMPv6 socket's (RFC 3542 3.1: ICMPv6's own field), -1: none
  event::WaitList read_wait_;
};

// A new ping (raw: raw ICMP) socket of family f; nullptr without memory.
Socket* icmp_socket_new(Family f, bool raw);

}  // namespace capsule::net
