#pragma once
// AF_UNIX sockets (net/include/net/unix.h, docs/net.md): the socket and its
// queued messages. Private to net/.
//
// Lock order: a connecting socket's mu_ -> the listener's mu_ (connect
// only); otherwise a call holds one socket's mu_ at a time (the sender's
// checks, then the receiver's queue), and g_names' lock is a leaf.
// Messages, references to other sockets and in-flight files are released
// after the lock is dropped: their release can close another socket.
#include <atomic>

#include "core/event/sync.h"
#include "core/event/wait.h"
#include "lib/intrusive_list.h"
#include "net/unix.h"

namespace capsule::net {

class UnixSocket;
using UnixRef = RefPtr<UnixSocket>;

// A name as stored: Address's data/len without the walk context.
struct UnixName {
  uint16_t len = 0;
  uint8_t data[MAX_ADDRESS] = {};
};

// One queued message (datagram, seqpacket record) or stream chunk.
struct UnixMsg {
  ListNode node;
  uint8_t* data = nullptr;  // kmalloc'd, len bytes
  size_t len = 0, off = 0;  // off: bytes a stream reader consumed
  FileList files;
  Creds creds;
  UnixName from;
  UnixRef sender;  // told when room is made
  ~UnixMsg();
};

class UnixSocket final : public Socket {
 public:
  static constexpr int DEFAULT_BUF = 212992;  // Linux's net.core.wmem_default
  static constexpr size_t MAX_DGRAM_QLEN = 10;  // net.unix.max_dgram_qlen
  static constexpr int MAX_BACKLOG = 4096;      // net.core.somaxconn

  explicit UnixSocket(SockType t) : type_(t) {}

  Family family() const override { return Family::Unix; }
  SockType type() const override { return type_; }
  Result<void> bind(const Address& a) override;
  Result<void> listen(int backlog, const Creds& me) override;
  Result<SocketRef> accept(bool nonblock) override;
  Result<void> connect(const Address& a, bool nonblock, const Creds& me) override;
  Result<void> shutdown(Shut how) override;
  Result<size_t> sendmsg(SendMsg& m) override;
  Result<size_t> recvmsg(RecvMsg& m) override;
  Result<int> get_option(SockOpt o) override;
  Result<void> set_option(SockOpt o, int value) override;
  Result<Creds> peer_creds() override;
  Result<void> name(Address& out) override;
  Result<void> peer_name(Address& out) override;
  size_t bytes_readable() override;
  size_t bytes_unsent() override;
  void close() override;
  uint32_t poll_events() override;

  // socketpair(2).
  static void pair(UnixSocket& a, UnixSocket& b, const Creds& c);

  ListNode name_node;    // in g_names while bound
  ListNode accept_node;  // in a listener's pending_ until accepted

 protected:
  ~UnixSocket() override;

 private:
  enum class State : uint8_t { Unconnected, Listening, Connected, Closed };
  bool connection() const { return type_ != SockType::Dgram; }
  bool sender_blocked_locked(size_t size, UnixSocket* from) REQUIRES(mu_);
  Result<size_t> send_stream(SendMsg& m, UnixRef peer);
  Result<size_t> send_record(SendMsg& m, UnixRef to);
  Result<size_t> recv_stream(RecvMsg& m);
  Result<size_t> recv_record(RecvMsg& m);
  void enqueue_locked(UnixMsg* msg) REQUIRES(mu_);
  void wake_locked(uint32_t events) REQUIRES(mu_);

  friend Result<UnixRef> unix_lookup(const Address& a, SockType t);

  const SockType type_;
  Mutex mu_;
  State state_ GUARDED_BY(mu_) = State::Unconnected;
  UnixRef peer_ GUARDED_BY(mu_);
  IntrusiveList<UnixMsg, &UnixMsg::node> queue_ GUARDED_BY(mu_);
  size_t queued_ GUARDED_BY(mu_) = 0;  // unread bytes in queue_
  IntrusiveList<UnixSocket, &UnixSocket::accept_node> pending_ GUARDED_BY(mu_);  // each holds a reference
  int backlog_ GUARDED_BY(mu_) = 0;
  bool rcv_shut_ GUARDED_BY(mu_) = false, snd_shut_ GUARDED_BY(mu_) = false;
  Error err_ GUARDED_BY(mu_) = Error::None;  // SO_ERROR
  Creds peer_creds_ GUARDED_BY(mu_);
  Creds listen_creds_ GUARDED_BY(mu_);
  // The name: set once, by bind under mu_ and g_names' lock (lookups
  // read it under the latter) or before an accepted end is published.
  // node_: the socket inode a path name made.
  UnixName name_;
  bool bound_ = false;
  vfs::VnodeRef node_;
  std::atomic<int> sndbuf_{DEFAULT_BUF}, rcvbuf_{DEFAULT_BUF};
  std::atomic<bool> passcred_{false}, reuseaddr_{false}, keepalive_{false};
  event::WaitList read_wait_;   // data, a connection to accept, shutdown, close
  event::WaitList space_wait_;  // room in queue_ (or backlog room) for senders
};

}  // namespace capsule::net
