// virtio-net [virtio 1.2 §5.1] on either transport, as a netdev::Device
// (drivers/include/drivers/net_device.h, docs/net_device.md).
//
// One queue pair: receiveq1 (0) and transmitq1 (1). Features: MAC, STATUS
// (link state), MRG_RXBUF (a frame may span several receive buffers; with
// 2 KiB buffers and no GSO it never does, but the header's num_buffers is
// honoured), VERSION_1. No checksum offload: QEMU's user network hands
// whole checksums, and the stack computes its own.
//
// Receive: the ring is kept full of 2 KiB buffers. The interrupt handler
// only wakes the receive thread; the thread turns the queue's interrupts
// off while it drains (suppression while busy), hands each frame to the
// receiver, posts the buffer again, turns interrupts back on and looks
// once more before sleeping (a frame that came in between is not missed).
//
// Transmit: a pool of 2 KiB buffers; transmit() copies header + frame into
// one, reclaims what the device has used (its completions, no interrupt:
// the queue's interrupts stay off) and drops with a counter when the ring
// is full.
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
constexpr uint64_t F_MAC = 1ull << 5, F_MRG_RXBUF = 1ull << 15, F_STATUS = 1ull << 16;
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
// A frame spread over several merged buffers is gathered here.
constexpr size_t GATHER_SIZE = 4 * BUF_SIZE;

struct Queue {
  Virtqueue vq;
  uint16_t index = 0;
};

class VirtioNet final : public netdev::Device {
 public:
  const char* name() const override { return name_; }
  const uint8_t* mac() const override { return mac_; }
  uint16_t mtu() const override { return 1500; }
  bool link_up() const override { return link_up_.load(std::memory_order_relaxed); }
  Result<void> transmit(const uint8_t* frame, size_t len) override;
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
  void deliver(const uint8_t* frame, size_t len);
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
  size_t tx_bufs_ = 0;  // the pool's size: all free = nothing in flight
  uint8_t* gather_ = nullptr;
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
  gather_ = static_cast<uint8_t*>(kmalloc(GATHER_SIZE));
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
    tx_.vq.disable_interrupts();  // completions are reclaimed by transmit()
  }
  t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  if (rx_.vq.kick_prepare()) t.notify(RX_QUEUE);
  read_link();
  TRY(thread_create("virtio-net-rx", rx_thread, this, ThreadOptions{.detached = true}));
  ++g_count;
  log_info("{}: virtio-net ({}) mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, link {}, {} rx buffers{}", name_,
           t.kind(), mac_[0], mac_[1], mac_[2], mac_[3], mac_[4], mac_[5], link_up() ? "up" : "down", rx_bufs,
           features & F_MRG_RXBUF ? ", mergeable" : "");
  return {};
}

Result<void> VirtioNet::transmit(const uint8_t* frame, size_t len) {
  if (!len || len > netdev::MAX_FRAME) {
    SpinGuard g(stats_lock_);
    ++stats_.tx_dropped;
    return Error::Invalid;
  }
  trace::point<trace::Event::NetTx>(len);  // --trace=net (core/trace.h)
  bool notify;
  {
    SpinGuard g(tx_lock_);
    void* token;
    while (tx_.vq.pop_used(&token, nullptr)) tx_free_[tx_free_count_++] = static_cast<uint8_t*>(token);
    if (!tx_free_count_) {
      SpinGuard s(stats_lock_);
      ++stats_.tx_dropped;
      return Error::NoSpace;
    }
    uint8_t* b = tx_free_[--tx_free_count_];
    __builtin_memset(b, 0, sizeof(NetHdr));  // no offload, no GSO [§5.1.6.2]
    __builtin_memcpy(b + sizeof(NetHdr), frame, len);
    Virtqueue::Buf buf{virt_to_phys(b), uint32_t(sizeof(NetHdr) + len), false};
    if (auto r = tx_.vq.add(&buf, 1, b); !r.ok()) {  // cannot happen: one buffer per descriptor
      tx_free_[tx_free_count_++] = b;
      return r.error();
    }
    notify = tx_.vq.kick_prepare();
  }
  if (notify) t_->notify(TX_QUEUE);
  SpinGuard s(stats_lock_);
  ++stats_.tx_frames;
  stats_.tx_bytes += len;
  return {};
}

// Transmit completions raise no interrupt (transmit() reclaims them), so
// this polls the used ring; the device works on the queue in its own thread
// meanwhile (QEMU's I/O thread), and a frame it has used has left the VM.
bool VirtioNet::flush(uint64_t deadline_ns) {
  for (;;) {
    {
      SpinGuard g(tx_lock_);
      void* token;
      while (tx_.vq.pop_used(&token, nullptr)) tx_free_[tx_free_count_++] = static_cast<uint8_t*>(token);
      if (tx_free_count_ == tx_bufs_) return true;
    }
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
      deliver(b + sizeof h, written - sizeof h);
    } else {
      // Merged buffers [§5.1.6.4]: the rest of the frame is in the next
      // nbufs - 1 used buffers; gather them (too long: dropped).
      size_t n = written - sizeof h;
      bool fits = n <= GATHER_SIZE;
      if (fits) __builtin_memcpy(gather_, b + sizeof h, n);
      for (uint16_t i = 1; i < nbufs; ++i) {
        void* more;
        uint32_t w;
        if (!rx_.vq.pop_used(&more, &w)) {  // the device broke the rule
          fits = false;
          break;
        }
        if (w > BUF_SIZE) w = BUF_SIZE;
        if (fits && n + w <= GATHER_SIZE) __builtin_memcpy(gather_ + n, more, w);
        else fits = false;
        n += w;
        Virtqueue::Buf buf{virt_to_phys(more), uint32_t(BUF_SIZE), true};
        (void)rx_.vq.add(&buf, 1, more);
      }
      if (fits) {
        deliver(gather_, n);
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
  uint64_t f = TRY(negotiate(t, F_MAC | F_MRG_RXBUF | F_STATUS));
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
