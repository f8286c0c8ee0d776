// virtio-net [virtio 1.2 §5.1] on either transport, as a netdev::Device
// (drivers/include/drivers/net_device.h, docs/net_device.md).
//
// One queue pair: receiveq1 (0) and transmitq1 (1). Features: MAC, STATUS
// (link state), MRG_RXBUF (a frame may span several receive buffers; with
// 2 KiB buffers and no GSO it never does, but the header's num_buffers is
// honoured), VERSION_1, and for sending CSUM with HOST_TSO4 where the
// device offers them (QEMU does with a tap backend, not with its user
// network): TCP hands frames of up to 64 KiB that the device cuts into
// segments (TCP segmentation offload), each a copy into one of 8 64 KiB
// buffers; and for receiving GUEST_CSUM with GUEST_TSO4: the device may
// hand a TCP/IPv4 segment of up to 64 KiB (the host's segments merged,
// over several receive buffers, gathered into one 66 KiB buffer) and may
// leave its checksum partial, which this driver completes before the
// stack sees the frame (the stack verifies every checksum itself).
//
// Receive: the ring is kept full of 2 KiB buffers. The interrupt handler
// only wakes the receive thread; the thread turns the queue's interrupts
// off while it drains (suppression while busy), hands each frame to the
// receiver, posts the buffer again, turns interrupts back on and looks
// once more before sleeping (a frame that came in between is not missed).
//
// Transmit: a pool of 2 KiB buffers; transmit() copies header + frame into
// one and reclaims what the device has used (its completions, no interrupt
// while the device keeps up: the queue's interrupts are off). When every
// buffer is in flight the frame waits in a backlog (a copy, up to
// TX_BACKLOG_MAX frames, as Linux's qdisc queues in front of a stopped
// device) and the queue's interrupts go on until the device has taken the
// backlog; only past that bound is a frame dropped and counted. Dropping
// at once cost every burst larger than the pool a retransmission timeout
// (nginx with 4 clients of a 64 KiB page: p99 220 ms, 50 ms with the
// backlog; bench/README.md "bench/net").
#include <atomic>
#include <new>

#include "lib/log.h"
#include "core/mm.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/trace.h"
#include "core/sync/wait_queue.h"
#include "drivers/net_device.h"
#include "drivers/virtio/transport.h"
#include "drivers/virtio/virtqueue.h"

namespace capsule::virtio {
namespace {

// Feature bits [§5.1.3].
constexpr uint64_t F_CSUM = 1ull << 0, F_GUEST_CSUM = 1ull << 1, F_MAC = 1ull << 5, F_GUEST_TSO4 = 1ull << 7,
                   F_HOST_TSO4 = 1ull << 11, F_MRG_RXBUF = 1ull << 15, F_STATUS = 1ull << 16;
// struct virtio_net_hdr's flags and gso_type [§5.1.6].
constexpr uint8_t HDR_F_NEEDS_CSUM = 1, GSO_TCPV4 = 1;
// Configuration [§5.1.4]: mac[6] at 0, status at 6.
constexpr size_t CONFIG_MAC = 0, CONFIG_STATUS = 6;
constexpr uint16_t STATUS_LINK_UP = 1;

// struct virtio_net_hdr with VERSION_1: num_buffers is always there [§5.1.6].
struct NetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;
};
static_assert(sizeof(NetHdr) == 12);

constexpr uint16_t RX_QUEUE = 0, TX_QUEUE = 1;
constexpr uint16_t QUEUE_SIZE = 256;
constexpr size_t BUF_SIZE = 2048;
constexpr unsigned POOL_ORDER = 6;  // 64 pages: 128 buffers per direction
constexpr size_t POOL_BUFS = (PAGE_SIZE << POOL_ORDER) / BUF_SIZE;
// Frames waiting for a transmit buffer (see the top of the file).
constexpr size_t TX_BACKLOG_MAX = 512;
// TSO: 8 buffers of 64 KiB for frames larger than a small buffer holds.
constexpr unsigned JUMBO_ORDER = 4, JUMBO_BUFS = 8;
constexpr size_t JUMBO_SIZE = PAGE_SIZE << JUMBO_ORDER;
// A frame spread over several merged buffers is gathered here.
constexpr size_t GATHER_SIZE = 4 * BUF_SIZE;
// With GUEST_TSO4: a 64 KiB IPv4 packet and its Ethernet header.
constexpr size_t GATHER_SIZE_LRO = 65536 + BUF_SIZE;

struct Queue {
  Virtqueue vq;
  uint16_t index = 0;
};

// A frame in the transmit backlog, with the header it goes with.
struct TxPending {
  TxPending* next;
  size_t len;
  NetHdr hdr;
  uint8_t frame[];
};

class VirtioNet final : public netdev::Device {
 public:
  const char* name() const override { return name_; }
  const uint8_t* mac() const override { return mac_; }
  uint16_t mtu() const override { return 1500; }
  bool link_up() const override { return link_up_.load(std::memory_order_relaxed); }
  Result<void> transmit(const uint8_t* frame, size_t len) override { return send(frame, len, NetHdr{}); }
  size_t tso_max() const override { return jumbo_ ? JUMBO_SIZE - sizeof(NetHdr) : 0; }
  Result<void> transmit_offload(const uint8_t* frame, size_t len, const netdev::TxOffload& o) override;
  void set_receiver(netdev::ReceiveFn fn, void* context) override {
    SpinGuard g(stats_lock_);
    receiver_context_ = context;
    receiver_ = fn;
  }
  netdev::Stats stats() const override {
    SpinGuard g(stats_lock_);
    return stats_;
  }

  bool flush(uint64_t deadline_ns) override;
  Result<void> start(Transport& t, uint64_t features);

 private:
  static void on_irq(void* self) { static_cast<VirtioNet*>(self)->wake_.up(); }
  static void rx_thread(void* self) { static_cast<VirtioNet*>(self)->rx_loop(); }
  [[noreturn]] void rx_loop();
  bool drain_rx();
  Result<void> send(const uint8_t* frame, size_t len, const NetHdr& h);
  bool reclaim_tx_locked() REQUIRES(tx_lock_);
  bool post_tx_locked(const uint8_t* frame, size_t len, const NetHdr& h) REQUIRES(tx_lock_);
  bool is_jumbo(const uint8_t* b) const { return jumbo_ && b >= jumbo_ && b < jumbo_ + JUMBO_BUFS * JUMBO_SIZE; }
  void drain_tx_backlog();
  void deliver(const uint8_t* frame, size_t len);
  void deliver_received(uint8_t* frame, size_t len, const NetHdr& h);
  void read_link();
  Result<void> setup_queue(Queue& q, uint16_t index);

  Transport* t_ = nullptr;
  uint64_t features_ = 0;
  char name_[8] = "eth0";
  uint8_t mac_[netdev::MAC_LEN] = {};
  std::atomic<bool> link_up_{true};  // written by the receive thread
  Queue rx_;                 // the receive thread's alone
  Queue tx_;                 // under tx_lock_
  SpinLock tx_lock_;
  uint8_t* tx_free_[POOL_BUFS] GUARDED_BY(tx_lock_) = {};
  size_t tx_free_count_ GUARDED_BY(tx_lock_) = 0;
  uint8_t* jumbo_ = nullptr;  // JUMBO_BUFS buffers when TSO was negotiated
  uint8_t* jumbo_free_[JUMBO_BUFS] GUARDED_BY(tx_lock_) = {};
  size_t jumbo_free_count_ GUARDED_BY(tx_lock_) = 0;
  TxPending* backlog_head_ GUARDED_BY(tx_lock_) = nullptr;
  TxPending* backlog_tail_ GUARDED_BY(tx_lock_) = nullptr;
  size_t backlog_count_ GUARDED_BY(tx_lock_) = 0;
  size_t tx_bufs_ = 0;  // the pool's size: all free = nothing in flight
  uint8_t* gather_ = nullptr;
  size_t gather_size_ = GATHER_SIZE;
  Semaphore wake_;
  mutable SpinLock stats_lock_;
  netdev::Stats stats_ GUARDED_BY(stats_lock_);
  netdev::ReceiveFn receiver_ GUARDED_BY(stats_lock_) = nullptr;
  void* receiver_context_ GUARDED_BY(stats_lock_) = nullptr;
};

unsigned g_count;

Result<void> VirtioNet::setup_queue(Queue& q, uint16_t index) {
  uint16_t max = t_->queue_max(index);
  if (!max) return Error::NotFound;
  uint16_t size = max < QUEUE_SIZE ? max : QUEUE_SIZE;
  size = uint16_t(1u << (31 - __builtin_clz(size)));  // a power of two
  size_t bytes = Virtqueue::bytes(size);
  unsigned order = 0;
  while ((PAGE_SIZE << order) < bytes) ++order;
  uint64_t page = TRY(page_alloc(order));
  void* mem = phys_to_virt(page);
  __builtin_memset(mem, 0, PAGE_SIZE << order);
  TRY(q.vq.init(size, mem, page));
  TRY(t_->queue_setup(index, size, q.vq.desc_phys(), q.vq.avail_phys(), q.vq.used_phys()));
  q.index = index;
  return {};
}

void VirtioNet::read_link() {
  if (!(features_ & F_STATUS)) return;  // no status field: the link is up [§5.1.4]
  bool up = t_->config16(CONFIG_STATUS) & STATUS_LINK_UP;
  if (link_up_.exchange(up) != up) log_info("{}: link {}", name_, up ? "up" : "down");
}

Result<void> VirtioNet::start(Transport& t, uint64_t features) {
  t_ = &t;
  features_ = features;
  name_[3] = char('0' + (g_count < 10 ? g_count : 9));
  if (features & F_MAC) {
    for (size_t i = 0; i < netdev::MAC_LEN; ++i) mac_[i] = t.config8(CONFIG_MAC + i);
  } else {
    // A locally administered address of our own [IEEE 802: bit 1 of the first byte].
    const uint8_t local[netdev::MAC_LEN] = {0x02, 0xca, 0x95, 0x01, 0x00, uint8_t(g_count)};
    __builtin_memcpy(mac_, local, sizeof mac_);
  }
  TRY(t.setup_irq(on_irq, this));  // before the queues (MSI-X binding)
  TRY(setup_queue(rx_, RX_QUEUE));
  TRY(setup_queue(tx_, TX_QUEUE));
  auto* rx_pool = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(POOL_ORDER))));
  auto* tx_pool = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(POOL_ORDER))));
  if ((features & (F_CSUM | F_HOST_TSO4)) == (F_CSUM | F_HOST_TSO4)) {
    // One block for the 8 (is_jumbo() is a range check); without the
    // memory the device is used without TSO.
    unsigned order = JUMBO_ORDER + 3;
    if (auto r = page_alloc(order); r.ok()) jumbo_ = static_cast<uint8_t*>(phys_to_virt(r.value()));
  }
  if ((features & (F_GUEST_CSUM | F_GUEST_TSO4)) == (F_GUEST_CSUM | F_GUEST_TSO4)) gather_size_ = GATHER_SIZE_LRO;
  gather_ = static_cast<uint8_t*>(kmalloc(gather_size_));
  if (!gather_) return Error::NoMemory;
  size_t rx_bufs = POOL_BUFS < rx_.vq.size() ? POOL_BUFS : rx_.vq.size();
  for (size_t i = 0; i < rx_bufs; ++i) {
    uint8_t* b = rx_pool + i * BUF_SIZE;
    Virtqueue::Buf buf{virt_to_phys(b), uint32_t(BUF_SIZE), true};
    TRY(rx_.vq.add(&buf, 1, b));
  }
  {
    SpinGuard g(tx_lock_);
    tx_bufs_ = POOL_BUFS < tx_.vq.size() ? POOL_BUFS : tx_.vq.size();
    for (size_t i = 0; i < tx_bufs_; ++i) tx_free_[tx_free_count_++] = tx_pool + i * BUF_SIZE;
    if (jumbo_)
      for (size_t i = 0; i < JUMBO_BUFS; ++i) jumbo_free_[jumbo_free_count_++] = jumbo_ + i * JUMBO_SIZE;
    tx_.vq.disable_interrupts();  // completions are reclaimed by transmit()
  }
  t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  if (rx_.vq.kick_prepare()) t.notify(RX_QUEUE);
  read_link();
  TRY(thread_create("virtio-net-rx", rx_thread, this, ThreadOptions{.detached = true}));
  ++g_count;
  log_info("{}: virtio-net ({}) mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, link {}, {} rx buffers{}{}{}", name_,
           t.kind(), mac_[0], mac_[1], mac_[2], mac_[3], mac_[4], mac_[5], link_up() ? "up" : "down", rx_bufs,
           features & F_MRG_RXBUF ? ", mergeable" : "", jumbo_ ? ", TSO" : "",
           gather_size_ == GATHER_SIZE_LRO ? ", large receive" : "");
  return {};
}

// Takes back the buffers the device has used, then moves backlog frames
// into them, oldest first. True when something was published.
bool VirtioNet::reclaim_tx_locked() {
  void* token;
  while (tx_.vq.pop_used(&token, nullptr)) {
    auto* b = static_cast<uint8_t*>(token);
    if (is_jumbo(b)) jumbo_free_[jumbo_free_count_++] = b;
    else tx_free_[tx_free_count_++] = b;
  }
  bool posted = false;
  while (backlog_head_) {
    TxPending* p = backlog_head_;
    if (!post_tx_locked(p->frame, p->len, p->hdr)) break;
    posted = true;
    backlog_head_ = p->next;
    if (!backlog_head_) backlog_tail_ = nullptr;
    --backlog_count_;
    kfree(p);
  }
  return posted;
}

// Copies the header and a frame into a free buffer (a 64 KiB one past a
// small buffer's room) and adds it to the ring (published by the caller's
// kick_prepare). False when no buffer of the size is free.
bool VirtioNet::post_tx_locked(const uint8_t* frame, size_t len, const NetHdr& h) {
  const bool big = sizeof(NetHdr) + len > BUF_SIZE;
  uint8_t** pool = big ? jumbo_free_ : tx_free_;
  size_t& count = big ? jumbo_free_count_ : tx_free_count_;
  if (!count) return false;
  uint8_t* b = pool[--count];
  __builtin_memcpy(b, &h, sizeof h);
  __builtin_memcpy(b + sizeof(NetHdr), frame, len);
  Virtqueue::Buf buf{virt_to_phys(b), uint32_t(sizeof(NetHdr) + len), false};
  if (!tx_.vq.add(&buf, 1, b).ok()) {  // cannot happen: one descriptor per buffer, as many as buffers
    pool[count++] = b;
    return false;
  }
  return true;
}

// A TCP/IPv4 frame for the device to segment and checksum (TSO), or one
// with a partial checksum. Anything the device was not asked for, or a
// header that does not describe the frame, is Invalid.
Result<void> VirtioNet::transmit_offload(const uint8_t* frame, size_t len, const netdev::TxOffload& o) {
  if (!jumbo_ || len > tso_max() || (o.gso_size && !o.csum_offset) ||
      size_t(o.csum_start) + o.csum_offset + 2 > len || o.hdr_len > len) {
    SpinGuard g(stats_lock_);
    ++stats_.tx_dropped;
    return Error::Invalid;
  }
  NetHdr h{};
  if (o.csum_offset) {
    h.flags = HDR_F_NEEDS_CSUM;
    h.csum_start = o.csum_start;
    h.csum_offset = o.csum_offset;
  }
  if (o.gso_size) {
    h.gso_type = GSO_TCPV4;
    h.gso_size = o.gso_size;
    h.hdr_len = o.hdr_len;
  }
  return send(frame, len, h);
}

Result<void> VirtioNet::send(const uint8_t* frame, size_t len, const NetHdr& h) {
  if (!len || len > (h.gso_type ? tso_max() : netdev::MAX_FRAME)) {
    SpinGuard g(stats_lock_);
    ++stats_.tx_dropped;
    return Error::Invalid;
  }
  trace::point<trace::Event::NetTx>(len);  // --trace=net (core/trace.h)
  bool notify, dropped = false;
  {
    SpinGuard g(tx_lock_);
    reclaim_tx_locked();
    // Behind a backlog a frame waits its turn, so the order is kept.
    if (backlog_head_ || !post_tx_locked(frame, len, h)) {
      auto* p = backlog_count_ < TX_BACKLOG_MAX ? static_cast<TxPending*>(kmalloc(sizeof(TxPending) + len)) : nullptr;
      if (p) {
        p->next = nullptr;
        p->len = len;
        p->hdr = h;
        __builtin_memcpy(p->frame, frame, len);
        if (backlog_tail_) backlog_tail_->next = p;
        else backlog_head_ = p;
        backlog_tail_ = p;
        ++backlog_count_;
        // The device's next completion interrupts: the receive thread then
        // moves the backlog on (drain_tx_backlog). A completion between the
        // reclaim above and this raised none: look once more.
        tx_.vq.enable_interrupts();
        reclaim_tx_locked();
      } else {
        dropped = true;
      }
    }
    notify = tx_.vq.kick_prepare();
  }
  if (notify) t_->notify(TX_QUEUE);
  SpinGuard s(stats_lock_);
  if (dropped) {
    ++stats_.tx_dropped;
    return Error::NoSpace;
  }
  ++stats_.tx_frames;
  stats_.tx_bytes += len;
  return {};
}

// From the receive thread after an interrupt: the backlog into the
// buffers the device gave back; the queue's interrupts off again once the
// backlog is empty.
void VirtioNet::drain_tx_backlog() {
  bool notify;
  {
    SpinGuard g(tx_lock_);
    if (!backlog_head_) return;
    reclaim_tx_locked();
    if (!backlog_head_) tx_.vq.disable_interrupts();
    notify = tx_.vq.kick_prepare();
  }
  if (notify) t_->notify(TX_QUEUE);
}

// Transmit completions raise no interrupt (transmit() reclaims them), so
// this polls the used ring; the device works on the queue in its own thread
// meanwhile (QEMU's I/O thread), and a frame it has used has left the VM.
bool VirtioNet::flush(uint64_t deadline_ns) {
  for (;;) {
    bool notify;
    {
      SpinGuard g(tx_lock_);
      reclaim_tx_locked();  // the backlog too
      if (tx_free_count_ == tx_bufs_ && jumbo_free_count_ == (jumbo_ ? JUMBO_BUFS : 0) && !backlog_head_)
        return true;
      notify = tx_.vq.kick_prepare();
    }
    if (notify) t_->notify(TX_QUEUE);
    if (uptime_ns() >= deadline_ns) return false;
    __builtin_ia32_pause();
  }
}

void VirtioNet::deliver(const uint8_t* frame, size_t len) {
  trace::point<trace::Event::NetRx>(len);  // --trace=net (core/trace.h)
  netdev::ReceiveFn fn;
  void* ctx;
  {
    SpinGuard g(stats_lock_);
    fn = receiver_;
    ctx = receiver_context_;
    if (!fn || len == 0) {
      ++stats_.rx_dropped;
      return;
    }
    ++stats_.rx_frames;
    stats_.rx_bytes += len;
  }
  fn(ctx, frame, len);
}

// The Internet checksum's ones'-complement sum of [p, p + n), big-endian
// words (RFC 1071), added to `sum`.
uint32_t ones_sum(const uint8_t* p, size_t n, uint32_t sum) {
  uint64_t s = sum;
  for (; n >= 2; p += 2, n -= 2) s += uint32_t(p[0]) << 8 | p[1];
  if (n) s += uint32_t(p[0]) << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint32_t(s);
}

// A frame from the device: a partial checksum (NEEDS_CSUM, possible once
// GUEST_CSUM is negotiated [§5.1.6.4.1]) is completed as the device would
// have: the sum from csum_start to the end, which includes the pseudo-
// header's sum already in the field, complemented into the field. The
// stack then checks every checksum as for any frame. A header that points
// outside the frame is dropped and counted.
void VirtioNet::deliver_received(uint8_t* frame, size_t len, const NetHdr& h) {
  if (h.flags & HDR_F_NEEDS_CSUM) {
    const size_t at = h.csum_start, field = size_t(h.csum_start) + h.csum_offset;
    if (at >= len || field + 2 > len) {
      SpinGuard g(stats_lock_);
      ++stats_.rx_dropped;
      return;
    }
    const uint16_t c = uint16_t(~ones_sum(frame + at, len - at, 0));
    frame[field] = uint8_t(c >> 8);
    frame[field + 1] = uint8_t(c);
  }
  deliver(frame, len);
}

// Takes every used receive buffer; true if there were any.
bool VirtioNet::drain_rx() {
  bool any = false;
  void* token;
  uint32_t written;
  while (rx_.vq.pop_used(&token, &written)) {
    any = true;
    auto* b = static_cast<uint8_t*>(token);
    if (written > BUF_SIZE) written = BUF_SIZE;  // a device bug; never read past the buffer
    NetHdr h{};
    if (written >= sizeof h) __builtin_memcpy(&h, b, sizeof h);
    uint16_t nbufs = (features_ & F_MRG_RXBUF) ? h.num_buffers : 1;
    if (written < sizeof h || nbufs == 0) {
      SpinGuard g(stats_lock_);
      ++stats_.rx_dropped;
    } else if (nbufs == 1) {
      deliver_received(b + sizeof h, written - sizeof h, h);
    } else {
      // Merged buffers [§5.1.6.4]: the rest of the frame is in the next
      // nbufs - 1 used buffers; gather them (too long: dropped).
      size_t n = written - sizeof h;
      bool fits = n <= gather_size_;
      if (fits) __builtin_memcpy(gather_, b + sizeof h, n);
      for (uint16_t i = 1; i < nbufs; ++i) {
        void* more;
        uint32_t w;
        if (!rx_.vq.pop_used(&more, &w)) {  // the device broke the rule
          fits = false;
          break;
        }
        if (w > BUF_SIZE) w = BUF_SIZE;
        if (fits && n + w <= gather_size_) __builtin_memcpy(gather_ + n, more, w);
        else fits = false;
        n += w;
        Virtqueue::Buf buf{virt_to_phys(more), uint32_t(BUF_SIZE), true};
        (void)rx_.vq.add(&buf, 1, more);
      }
      if (fits) {
        deliver_received(gather_, n, h);
      } else {
        SpinGuard g(stats_lock_);
        ++stats_.rx_dropped;
      }
    }
    Virtqueue::Buf buf{virt_to_phys(b), uint32_t(BUF_SIZE), true};
    (void)rx_.vq.add(&buf, 1, b);  // the ring had room for it a moment ago
  }
  if (any && rx_.vq.kick_prepare()) t_->notify(RX_QUEUE);
  return any;
}

void VirtioNet::rx_loop() {
  for (;;) {
    wake_.down();
    read_link();  // a configuration interrupt comes the same way
    drain_tx_backlog();  // and a transmit completion while a backlog waits
    // Busy: no interrupts while frames keep coming [§2.7.7].
    rx_.vq.disable_interrupts();
    while (drain_rx()) {
    }
    rx_.vq.enable_interrupts();
    // A frame used between the last look and enable_interrupts raised no
    // interrupt: look once more.
    if (rx_.vq.has_used()) wake_.up();
  }
}

}  // namespace

Result<void> net_probe(Transport& t) {
  // TSO needs the device's checksums [§5.1.3.1]; large receive needs ours
  // and merged buffers (the receive buffers are 2 KiB).
  auto fixup = [](uint64_t f) {
    if (!(f & F_CSUM)) f &= ~F_HOST_TSO4;
    if (!(f & F_GUEST_CSUM) || !(f & F_MRG_RXBUF)) f &= ~F_GUEST_TSO4;
    return f;
  };
  uint64_t f = TRY(negotiate(t, F_CSUM | F_GUEST_CSUM | F_MAC | F_GUEST_TSO4 | F_HOST_TSO4 | F_MRG_RXBUF | F_STATUS,
                             fixup));
  auto* dev = new (std::nothrow) VirtioNet;
  if (!dev) {
    t.set_status(STATUS_FAILED);
    return Error::NoMemory;
  }
  if (auto r = dev->start(t, f); !r.ok()) {
    t.set_status(STATUS_FAILED);
    return r.error();  // the device's memory stays: a failed device is not retried
  }
  netdev::register_device(dev);
  return {};
}

}  // namespace capsule::virtio
