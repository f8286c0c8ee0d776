#pragma once
// UDP sockets (udp(7), RFC 768; docs/net.md). Private to net/.
//
// Lock order: a socket's mu_, then (leaf) the port table's lock. Input
// finds the socket under the table's lock with a reference, drops the
// table's lock, then queues under the socket's mu_.
#include "core/event/sync.h"
#include "core/event/wait.h"
#include "lib/intrusive_list.h"
#include "net/inet.h"
#include "net/inet/port_table.h"

namespace capsule::net {

struct UdpDatagram {
  ListNode node;
  IpAddr from;  // IPv4 v4-mapped
  uint16_t from_port = 0;
  uint32_t scope = 0;  // the interface it came in by
  size_t len = 0;
  uint8_t* data = nullptr;  // kmalloc'd
  ~UdpDatagram();
};

class UdpSocket final : public Socket {
 public:
  static constexpr int DEFAULT_BUF = 212992;  // net.core.rmem_default / wmem_default
  static constexpr size_t MAX_PAYLOAD = 65507;   // 65535 - IPv4 and UDP headers
  static constexpr size_t MAX_PAYLOAD6 = 65527;  // 65535 - UDP's header (IPv6's payload length excludes its own)
  static constexpr size_t OVERHEAD = 768;       // charged per queued datagram (Linux's truesize, roughly)

  explicit UdpSocket(Family f = Family::Inet) : family_(f) {
    binding_.owner = this;
    binding_.v4 = f == Family::Inet;
    binding_.v6 = f == Family::Inet6;
  }
  Family family() const override { return family_; }
  SockType type() const override { return SockType::Dgram; }
  Result<void> bind(const Address& a) override;
  Result<void> connect(const Address& a, bool nonblock, const Creds& me) override;
  Result<void> shutdown(Shut how) override;
  Result<size_t> sendmsg(SendMsg& m) override;
  Result<size_t> recvmsg(RecvMsg& m) override;
  Result<int> get_option(SockOpt o) override;
  Result<void> set_option(SockOpt o, int value) override;
  Result<void> name(Address& out) override;
  Result<void> peer_name(Address& out) override;
  size_t bytes_readable() override;
  size_t bytes_unsent() override { return 0; }
  void close() override;
  uint32_t poll_events() override;

  // From udp_input / udp_icmp_error (no lock held).
  void deliver(const IpAddr& from, uint16_t from_port, uint32_t scope, const uint8_t* data, size_t len);
  void icmp_error(Error e);
  // /proc/net/udp's view (false: not bound).
  bool proc_info(InetSockInfo& out);

  Binding binding_;  // under the table's lock once linked; written under mu_ before

 protected:
  ~UdpSocket() override;

 private:
  Result<void> autobind_locked() REQUIRES(mu_);
  void set_families_locked() REQUIRES(mu_);
  const Family family_;
  Mutex mu_;
  bool v6only_ GUARDED_BY(mu_) = false;  // IPV6_V6ONLY (AF_INET6 only)
  bool connected_ GUARDED_BY(mu_) = false;
  bool closed_ GUARDED_BY(mu_) = false;
  bool user_addr_ GUARDED_BY(mu_) = false, user_port_ GUARDED_BY(mu_) = false;  // chosen by bind
  bool rcv_shut_ GUARDED_BY(mu_) = false, snd_shut_ GUARDED_BY(mu_) = false;
  IntrusiveList<UdpDatagram, &UdpDatagram::node> queue_ GUARDED_BY(mu_);
  size_t charged_ GUARDED_BY(mu_) = 0;  // bytes + overhead of the queue, against rcvbuf_
  Error err_ GUARDED_BY(mu_) = Error::None;
  std::atomic<int> sndbuf_{DEFAULT_BUF}, rcvbuf_{DEFAULT_BUF}, ttl_{64}, tos_{0};
  std::atomic<bool> broadcast_{false};
  event::WaitList read_wait_;
};

}  // namespace capsule::net
