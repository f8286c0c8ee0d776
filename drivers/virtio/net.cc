// virtio-net [virtio 1.2 §5.1] on either transport, as a netdev::Device
// (drivers/include/drivers/net_device.h, docs/net_device.md).
//
// Queue pairs: receiveq k at 2k, transmitq k at 2k + 1. One pair unless the
// device offers MQ (with the control queue) and the VM has several CPUs:
// then one pair per CPU up to the device's max_virtqueue_pairs and
// netmq::MAX_PAIRS (drivers/virtio/net_mq.h), turned on with the control
// queue's VQ_PAIRS_SET. Features: MAC, STATUS
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
// Receive: each ring is kept full of 2 KiB buffers and drained by its own
// thread (pinned to CPU k once that CPU is up). The interrupt handler
// only wakes the threads whose queue has work; a thread turns its queue's
// interrupts off while it drains (suppression while busy), hands each
// frame to the receiver, posts the buffer again, turns interrupts back on
// and looks once more before sleeping (a frame that came in between is
// not missed). Several threads may call the receiver at once.
//
// Transmit: a frame goes out on the pair of the CPU sending it, each pair
// with its own lock, pool of 2 KiB buffers and backlog; transmit() copies
// header + frame into one and reclaims what the device has used (its
// completions, no interrupt while the device keeps up: the queue's
// interrupts are off). When every
// buffer is in flight the frame waits in a backlog (a copy, up to
// TX_BACKLOG_MAX frames, as Linux's qdisc queues in front of a stopped
// device) and the queue's interrupts go on until the device has taken the
// backlog; only past that bound is a frame dropped and counted. Dropping
// at once cost every burst larger than the pool a retransmission timeout
// (nginx with 4 clients of a 64 KiB page: p99 220 ms, 50 ms with the
// backlog; bench/README.md "bench/net").
#include <atomic>
#include <new>

#include "lib/format.h"
#include "lib/log.h"
#include "arch/acpi.h"
#include "core/mm.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/trace.h"
#include "core/sync/wait_queue.h"
#include "drivers/net_device.h"
#include "drivers/virtio/net_mq.h"
#include "drivers/virtio/transport.h"
#include "drivers/virtio/virtqueue.h"

namespace capsule::virtio {
namespace {

// Feature bits [§5.1.3].
constexpr uint64_t F_CSUM = 1ull << 0, F_GUEST_CSUM = 1ull << 1, F_MAC = 1ull << 5, F_GUEST_TSO4 = 1ull << 7, F_GUEST_TSO6 = 1ull << 8,
                   F_HOST_TSO4 = 1ull << 11, F_HOST_TSO6 = 1ull << 12, F_MRG_RXBUF = 1ull << 15, F_STATUS = 1ull << 16,
                   F_CTRL_VQ = 1ull << 17, F_MQ = 1ull << 22;
// struct virtio_net_hdr's flags and gso_type [§5.1.6].
constexpr uint8_t HDR_F_NEEDS_CSUM = 1, GSO_TCPV4 = 1, GSO_TCPV6 = 4;
// Configuration [§5.1.4]: mac[6] at 0, status at 6, max_virtqueue_pairs at 8.
constexpr size_t CONFIG_MAC = 0, CONFIG_STATUS = 6, CONFIG_MAX_PAIRS = 8;
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

constexpr uint16_t QUEUE_SIZE = 256;
constexpr size_t BUF_SIZE = 2048;
constexpr unsigned POOL_ORDER = 6;  // 64 pages: 128 buffers per direction
constexpr size_t POOL_BUFS = (PAGE_SIZE << POOL_ORDER) / BUF_SIZE;
// Frames waiting for a transmit buffer (see the top of the file).
constexpr size_t TX_BACKLOG_MAX = 512;
// TSO: 8 buffers of 64 KiB per pair for frames larger than a small buffer holds.
constexpr unsigned JUMBO_ORDER = 4, JUMBO_BUFS = 8;
constexpr size_t JUMBO_SIZE = PAGE_SIZE << JUMBO_ORDER;
// A frame spread over several merged buffers is gathered here.
constexpr size_t GATHER_SIZE = 4 * BUF_SIZE;
// With GUEST_TSO4: a 64 KiB IPv4 packet and its Ethernet header.
constexpr size_t GATHER_SIZE_LRO = 65536 + BUF_SIZE;
// How long the control queue's answer may take (QEMU answers at once).
constexpr uint64_t CTRL_TIMEOUT_NS = 1'000'000'000;

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

class VirtioNet;

// One receive queue and one transmit queue with what each needs: the
// receive side is its thread's alone, the transmit side is under tx_lock.
struct Pair {
  VirtioNet* dev = nullptr;
  uint16_t k = 0;
  bool own_irq = false;  // both queues have an MSI-X vector of their own
  Queue rx;  // the receive thread's alone
  Queue tx;  // under tx_lock
  SpinLock tx_lock;
  uint8_t* tx_free[POOL_BUFS] GUARDED_BY(tx_lock) = {};
  size_t tx_free_count GUARDED_BY(tx_lock) = 0;
  uint8_t* jumbo = nullptr;  // JUMBO_BUFS buffers when TSO was negotiated
  uint8_t* jumbo_free[JUMBO_BUFS] GUARDED_BY(tx_lock) = {};
  size_t jumbo_free_count GUARDED_BY(tx_lock) = 0;
  TxPending* backlog_head GUARDED_BY(tx_lock) = nullptr;
  TxPending* backlog_tail GUARDED_BY(tx_lock) = nullptr;
  size_t backlog_count GUARDED_BY(tx_lock) = 0;
  // A backlog waits for a completion interrupt (read by the handler).
  std::atomic<bool> tx_waiting{false};
  size_t tx_bufs = 0;  // the pool's size: all free = nothing in flight
  uint8_t* gather = nullptr;
  size_t gather_size = GATHER_SIZE;
  Semaphore wake;
  // Frames through this pair (the whole device's are in Stats): what
  // power-off logs, to show the traffic spread over the pairs.
  std::atomic<uint64_t> rx_frames{0}, tx_frames{0};

  bool is_jumbo(const uint8_t* b) const { return jumbo && b >= jumbo && b < jumbo + JUMBO_BUFS * JUMBO_SIZE; }
};

class VirtioNet final : public netdev::Device {
 public:
  const char* name() const override { return name_; }
  const uint8_t* mac() const override { return mac_; }
  uint16_t mtu() const override { return 1500; }
  bool link_up() const override { return link_up_.load(std::memory_order_relaxed); }
  Result<void> transmit(const uint8_t* frame, size_t len) override { return send(frame, len, NetHdr{}); }
  size_t tso_max() const override { return tso_ ? JUMBO_SIZE - sizeof(NetHdr) : 0; }
  bool tso6() const override { return tso6_; }
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
  static void on_irq(void* self) { static_cast<VirtioNet*>(self)->irq(); }
  static void on_pair_irq(void* pair) { static_cast<Pair*>(pair)->wake.up(); }
  static void rx_thread(void* pair) { static_cast<Pair*>(pair)->dev->rx_loop(*static_cast<Pair*>(pair)); }
  void irq();
  [[noreturn]] void rx_loop(Pair& p);
  bool drain_rx(Pair& p);
  Result<void> send(const uint8_t* frame, size_t len, const NetHdr& h);
  bool reclaim_tx_locked(Pair& p) REQUIRES(p.tx_lock);
  bool post_tx_locked(Pair& p, const uint8_t* frame, size_t len, const NetHdr& h) REQUIRES(p.tx_lock);
  void drain_tx_backlog(Pair& p);
  bool flush_pair(Pair& p, uint64_t deadline_ns);
  void deliver(Pair& p, const uint8_t* frame, size_t len);
  void deliver_received(Pair& p, uint8_t* frame, size_t len, const NetHdr& h);
  void read_link();
  Result<void> setup_queue(Queue& q, uint16_t index);
  Result<void> setup_pair(Pair& p, uint16_t k);
  Result<void> set_pairs(Queue& ctrl, uint16_t n);
  void log_pairs();

  Transport* t_ = nullptr;
  uint64_t features_ = 0;
  char name_[8] = "eth0";
  uint8_t mac_[netdev::MAC_LEN] = {};
  std::atomic<bool> link_up_{true};  // written by the first receive thread
  Pair* pairs_ = nullptr;  // pairs_count_ of them, fixed after start()
  Queue ctrl_;             // the control queue (start() only)
  uint16_t pairs_count_ = 1;
  uint16_t pairs_wanted_ = 1;  // before the pairs are set up
  std::atomic<uint16_t> irq_pairs_{0};  // the pairs the handler looks at (set up ones)
  bool tso_ = false;  // every pair has its jumbo buffers
  bool tso6_ = false;  // and HOST_TSO6 was negotiated
  std::atomic<bool> logged_{false};
  mutable SpinLock stats_lock_;
  netdev::Stats stats_ GUARDED_BY(stats_lock_);
  netdev::ReceiveFn receiver_ GUARDED_BY(stats_lock_) = nullptr;
  void* receiver_context_ GUARDED_BY(stats_lock_) = nullptr;
};

unsigned g_count;
constexpr const char* RX_THREAD_NAMES[netmq::MAX_PAIRS] = {
    "virtio-net-rx", "virtio-net-rx1", "virtio-net-rx2", "virtio-net-rx3",
    "virtio-net-rx4", "virtio-net-rx5", "virtio-net-rx6", "virtio-net-rx7"};

// The CPUs the VM will have (ACPI's enabled processors): the probe runs
// before the other CPUs start, so cpu_count() would say 1.
uint32_t cpus_expected() {
  const AcpiInfo& a = acpi_info();
  uint32_t n = 0;
  for (size_t i = 0; i < a.cpu_count; ++i) n += a.cpus[i].enabled ? 1 : 0;
  return n ? n : 1;
}

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

// Pair k's queues, buffers (the receive ring filled, not yet published)
// and gather buffer.
Result<void> VirtioNet::setup_pair(Pair& p, uint16_t k) {
  p.dev = this;
  p.k = k;
  if (pairs_wanted_ > 1) {
    // An interrupt per queue where the transport has them (virtio-pci's
    // MSI-X), which wakes this pair's thread alone; else the device's.
    p.own_irq = t_->setup_queue_irq(netmq::rx_index(k), on_pair_irq, &p).ok();
    p.own_irq = t_->setup_queue_irq(netmq::tx_index(k), on_pair_irq, &p).ok() && p.own_irq;
  }
  TRY(setup_queue(p.rx, netmq::rx_index(k)));
  TRY(setup_queue(p.tx, netmq::tx_index(k)));
  auto* rx_pool = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(POOL_ORDER))));
  auto* tx_pool = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(POOL_ORDER))));
  if ((features_ & (F_CSUM | F_HOST_TSO4)) == (F_CSUM | F_HOST_TSO4)) {
    // One block for the 8 (is_jumbo() is a range check); without the
    // memory the device is used without TSO.
    unsigned order = JUMBO_ORDER + 3;
    if (auto r = page_alloc(order); r.ok()) p.jumbo = static_cast<uint8_t*>(phys_to_virt(r.value()));
  }
  if ((features_ & F_GUEST_CSUM) && (features_ & (F_GUEST_TSO4 | F_GUEST_TSO6))) p.gather_size = GATHER_SIZE_LRO;
  p.gather = static_cast<uint8_t*>(kmalloc(p.gather_size));
  if (!p.gather) return Error::NoMemory;
  size_t rx_bufs = POOL_BUFS < p.rx.vq.size() ? POOL_BUFS : p.rx.vq.size();
  for (size_t i = 0; i < rx_bufs; ++i) {
    uint8_t* b = rx_pool + i * BUF_SIZE;
    Virtqueue::Buf buf{virt_to_phys(b), uint32_t(BUF_SIZE), true};
    TRY(p.rx.vq.add(&buf, 1, b));
  }
  SpinGuard g(p.tx_lock);
  p.tx_bufs = POOL_BUFS < p.tx.vq.size() ? POOL_BUFS : p.tx.vq.size();
  for (size_t i = 0; i < p.tx_bufs; ++i) p.tx_free[p.tx_free_count++] = tx_pool + i * BUF_SIZE;
  if (p.jumbo)
    for (size_t i = 0; i < JUMBO_BUFS; ++i) p.jumbo_free[p.jumbo_free_count++] = p.jumbo + i * JUMBO_SIZE;
  p.tx.vq.disable_interrupts();  // completions are reclaimed by transmit()
  return {};
}

// VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET on the control queue [§5.1.6.5.5],
// after DRIVER_OK; the answer is polled (the probe runs once, at boot).
// Until the device acknowledges it uses the first pair only.
Result<void> VirtioNet::set_pairs(Queue& ctrl, uint16_t n) {
  const uint16_t index = ctrl.index;
  auto* buf = static_cast<uint8_t*>(kmalloc(64));
  if (!buf) return Error::NoMemory;
  size_t len = netmq::pairs_set_command(n, buf);
  uint8_t* ack = buf + 32;
  *ack = netmq::CTRL_ERR;
  Virtqueue::Buf bufs[2] = {{virt_to_phys(buf), uint32_t(len), false}, {virt_to_phys(ack), 1, true}};
  TRY(ctrl.vq.add(bufs, 2, buf));
  (void)ctrl.vq.kick_prepare();  // notified whatever the device's hint: it is the only request
  t_->notify(index);
  const uint64_t deadline = uptime_ns() + CTRL_TIMEOUT_NS;
  void* token;
  uint32_t written = 0;
  while (!ctrl.vq.pop_used(&token, &written)) {
    if (uptime_ns() >= deadline) return Error::TimedOut;  // the buffer stays the device's
    __builtin_ia32_pause();  // QEMU answers within the notify
  }
  uint8_t answer = *static_cast<volatile uint8_t*>(ack);
  kfree(buf);
  if (written < 1 || answer != netmq::CTRL_OK) return Error::Io;
  return {};
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
  const bool mq = (features & (F_MQ | F_CTRL_VQ)) == (F_MQ | F_CTRL_VQ);
  const uint16_t device_max = mq ? t.config16(CONFIG_MAX_PAIRS) : 1;
  uint16_t n = netmq::pairs_to_use(mq, device_max, cpus_expected());
  pairs_wanted_ = n;
  pairs_ = new (std::nothrow) Pair[n];
  if (!pairs_) return Error::NoMemory;
  TRY(t.setup_irq(on_irq, this));  // before the queues (MSI-X binding)
  // Pair 0 is needed; a later one that cannot be set up (memory) ends the list.
  TRY(setup_pair(pairs_[0], 0));
  uint16_t ready = 1;
  while (ready < n && setup_pair(pairs_[ready], ready).ok()) ++ready;
  pairs_count_ = ready;
  irq_pairs_.store(ready, std::memory_order_release);
  tso_ = true;
  for (uint16_t k = 0; k < pairs_count_; ++k) tso_ = tso_ && pairs_[k].jumbo;
  tso6_ = tso_ && (features_ & F_HOST_TSO6);
  // The control queue, like every queue, before DRIVER_OK [§3.1.1].
  Result<void> ctrl = Error::NotFound;
  if (pairs_count_ > 1) {
    ctrl = setup_queue(ctrl_, netmq::ctrl_index(true, device_max));
    if (ctrl.ok()) ctrl_.vq.disable_interrupts();  // the answer is polled
  }
  t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  if (pairs_count_ > 1) {
    if (auto r = ctrl.ok() ? set_pairs(ctrl_, pairs_count_) : ctrl; !r.ok()) {
      log_warn("{}: the device refused {} queue pairs ({}): one pair", name_, pairs_count_, error_name(r.error()));
      pairs_count_ = 1;
      irq_pairs_.store(1, std::memory_order_release);
    }
  }
  for (uint16_t k = 0; k < pairs_count_; ++k)
    if (pairs_[k].rx.vq.kick_prepare()) t.notify(pairs_[k].rx.index);
  read_link();
  for (uint16_t k = 0; k < pairs_count_; ++k)
    TRY(thread_create(RX_THREAD_NAMES[k], rx_thread, &pairs_[k], ThreadOptions{.detached = true}));
  ++g_count;
  char pairs_text[48] = "";
  if (pairs_count_ > 1)
    format_to(pairs_text, sizeof pairs_text, ", {} queue pairs{}", pairs_count_,
              pairs_[0].own_irq ? " (an interrupt each)" : "");
  log_info("{}: virtio-net ({}) mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, link {}, {} rx buffers{}{}{}{}", name_,
           t.kind(), mac_[0], mac_[1], mac_[2], mac_[3], mac_[4], mac_[5], link_up() ? "up" : "down",
           pairs_[0].rx.vq.size() < POOL_BUFS ? pairs_[0].rx.vq.size() : POOL_BUFS,
           features & F_MRG_RXBUF ? ", mergeable" : "", tso6_ ? ", TSO (v4, v6)" : tso_ ? ", TSO" : "",
           pairs_[0].gather_size != GATHER_SIZE_LRO ? ""
           : (features_ & F_GUEST_TSO6)           ? ", large receive (v4, v6)"
                                                  : ", large receive",
           StringView(pairs_text));
  return {};
}

// One interrupt for the whole device (virtio-mmio has one line; the PCI
// transport binds one MSI-X vector): wake each pair with used receive
// buffers or a backlog waiting for completions. Nothing to see on any
// queue: a configuration change, which the first pair's thread reads.
void VirtioNet::irq() {
  const uint16_t n = irq_pairs_.load(std::memory_order_acquire);
  if (!n) return;  // before the queues are set up
  bool any = false;
  for (uint16_t k = 0; k < n; ++k) {
    Pair& p = pairs_[k];
    if (p.rx.vq.has_used() || p.tx_waiting.load(std::memory_order_relaxed)) {
      p.wake.up();
      any = true;
    }
  }
  if (!any) pairs_[0].wake.up();
}

// Takes back the buffers the device has used, then moves backlog frames
// into them, oldest first. True when something was published.
bool VirtioNet::reclaim_tx_locked(Pair& p) {
  void* token;
  while (p.tx.vq.pop_used(&token, nullptr)) {
    auto* b = static_cast<uint8_t*>(token);
    if (p.is_jumbo(b)) p.jumbo_free[p.jumbo_free_count++] = b;
    else p.tx_free[p.tx_free_count++] = b;
  }
  bool posted = false;
  while (p.backlog_head) {
    TxPending* f = p.backlog_head;
    if (!post_tx_locked(p, f->frame, f->len, f->hdr)) break;
    posted = true;
    p.backlog_head = f->next;
    if (!p.backlog_head) p.backlog_tail = nullptr;
    --p.backlog_count;
    kfree(f);
  }
  return posted;
}

// Copies the header and a frame into a free buffer (a 64 KiB one past a
// small buffer's room) and adds it to the ring (published by the caller's
// kick_prepare). False when no buffer of the size is free.
bool VirtioNet::post_tx_locked(Pair& p, const uint8_t* frame, size_t len, const NetHdr& h) {
  const bool big = sizeof(NetHdr) + len > BUF_SIZE;
  uint8_t** pool = big ? p.jumbo_free : p.tx_free;
  size_t& count = big ? p.jumbo_free_count : p.tx_free_count;
  if (!count) return false;
  uint8_t* b = pool[--count];
  __builtin_memcpy(b, &h, sizeof h);
  __builtin_memcpy(b + sizeof(NetHdr), frame, len);
  Virtqueue::Buf buf{virt_to_phys(b), uint32_t(sizeof(NetHdr) + len), false};
  if (!p.tx.vq.add(&buf, 1, b).ok()) {  // cannot happen: one descriptor per buffer, as many as buffers
    pool[count++] = b;
    return false;
  }
  return true;
}

// A TCP/IPv4 frame for the device to segment and checksum (TSO), or one
// with a partial checksum. Anything the device was not asked for, or a
// header that does not describe the frame, is Invalid.
Result<void> VirtioNet::transmit_offload(const uint8_t* frame, size_t len, const netdev::TxOffload& o) {
  if (!tso_ || len > tso_max() || (o.gso_size && !o.csum_offset) || (o.v6 && o.gso_size && !tso6_) ||
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
    h.gso_type = o.v6 ? GSO_TCPV6 : GSO_TCPV4;
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
  // The sending CPU's pair; a move to another CPU meanwhile only means
  // another CPU's pair, which has its own lock.
  Pair& p = pairs_[netmq::tx_pair(current_cpu(), pairs_count_)];
  bool notify, dropped = false;
  {
    SpinGuard g(p.tx_lock);
    reclaim_tx_locked(p);
    // Behind a backlog a frame waits its turn, so the order is kept.
    if (p.backlog_head || !post_tx_locked(p, frame, len, h)) {
      auto* f = p.backlog_count < TX_BACKLOG_MAX ? static_cast<TxPending*>(kmalloc(sizeof(TxPending) + len)) : nullptr;
      if (f) {
        f->next = nullptr;
        f->len = len;
        f->hdr = h;
        __builtin_memcpy(f->frame, frame, len);
        if (p.backlog_tail) p.backlog_tail->next = f;
        else p.backlog_head = f;
        p.backlog_tail = f;
        ++p.backlog_count;
        // The device's next completion interrupts: the pair's receive
        // thread then moves the backlog on (drain_tx_backlog). A
        // completion between the reclaim above and this raised none: look
        // once more.
        p.tx_waiting.store(true, std::memory_order_relaxed);
        p.tx.vq.enable_interrupts();
        reclaim_tx_locked(p);
      } else {
        dropped = true;
      }
    }
    notify = p.tx.vq.kick_prepare();
  }
  if (notify) t_->notify(p.tx.index);
  if (!dropped) p.tx_frames.fetch_add(1, std::memory_order_relaxed);
  SpinGuard s(stats_lock_);
  if (dropped) {
    ++stats_.tx_dropped;
    return Error::NoSpace;
  }
  ++stats_.tx_frames;
  stats_.tx_bytes += len;
  return {};
}

// From the pair's receive thread after an interrupt: the backlog into the
// buffers the device gave back; the queue's interrupts off again once the
// backlog is empty.
void VirtioNet::drain_tx_backlog(Pair& p) {
  bool notify;
  {
    SpinGuard g(p.tx_lock);
    if (!p.tx_waiting.load(std::memory_order_relaxed)) return;
    // (transmit() may have emptied the backlog itself meanwhile.)
    reclaim_tx_locked(p);
    if (!p.backlog_head) {
      p.tx.vq.disable_interrupts();
      p.tx_waiting.store(false, std::memory_order_relaxed);
    }
    notify = p.tx.vq.kick_prepare();
  }
  if (notify) t_->notify(p.tx.index);
}

// Transmit completions raise no interrupt (transmit() reclaims them), so
// this polls the used ring; the device works on the queue in its own thread
// meanwhile (QEMU's I/O thread), and a frame it has used has left the VM.
bool VirtioNet::flush_pair(Pair& p, uint64_t deadline_ns) {
  for (;;) {
    bool notify;
    {
      SpinGuard g(p.tx_lock);
      reclaim_tx_locked(p);  // the backlog too
      if (p.tx_free_count == p.tx_bufs && p.jumbo_free_count == (p.jumbo ? JUMBO_BUFS : 0) && !p.backlog_head)
        return true;
      notify = p.tx.vq.kick_prepare();
    }
    if (notify) t_->notify(p.tx.index);
    if (uptime_ns() >= deadline_ns) return false;
    __builtin_ia32_pause();
  }
}

bool VirtioNet::flush(uint64_t deadline_ns) {
  bool all = true;
  for (uint16_t k = 0; k < pairs_count_; ++k) all = flush_pair(pairs_[k], deadline_ns) && all;
  log_pairs();  // flush runs before power-off
  return all;
}

// With several pairs, once (at power-off): the frames each pair carried,
// so a user sees the traffic spread (`capsule run --verbose`).
void VirtioNet::log_pairs() {
  if (pairs_count_ < 2 || logged_.exchange(true)) return;
  char rx[8 * 21 + 1] = "", tx[8 * 21 + 1] = "";
  size_t rn = 0, tn = 0;  // 8 numbers of at most 20 digits and a space fit
  for (uint16_t k = 0; k < pairs_count_ && rn < sizeof rx - 21 && tn < sizeof tx - 21; ++k) {
    rn += format_to(rx + rn, sizeof rx - rn, "{}{}", k ? " " : "", pairs_[k].rx_frames.load(std::memory_order_relaxed));
    tn += format_to(tx + tn, sizeof tx - tn, "{}{}", k ? " " : "", pairs_[k].tx_frames.load(std::memory_order_relaxed));
  }
  log_info("{}: frames per queue pair: rx {}, tx {}", name_, StringView(rx, rn), StringView(tx, tn));
}

void VirtioNet::deliver(Pair& p, const uint8_t* frame, size_t len) {
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
  p.rx_frames.fetch_add(1, std::memory_order_relaxed);
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
void VirtioNet::deliver_received(Pair& p, uint8_t* frame, size_t len, const NetHdr& h) {
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
  deliver(p, frame, len);
}

// Takes every used receive buffer of the pair; true if there were any.
bool VirtioNet::drain_rx(Pair& p) {
  bool any = false;
  void* token;
  uint32_t written;
  while (p.rx.vq.pop_used(&token, &written)) {
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
      deliver_received(p, b + sizeof h, written - sizeof h, h);
    } else {
      // Merged buffers [§5.1.6.4]: the rest of the frame is in the next
      // nbufs - 1 used buffers; gather them (too long: dropped).
      size_t n = written - sizeof h;
      bool fits = n <= p.gather_size;
      if (fits) __builtin_memcpy(p.gather, b + sizeof h, n);
      for (uint16_t i = 1; i < nbufs; ++i) {
        void* more;
        uint32_t w;
        if (!p.rx.vq.pop_used(&more, &w)) {  // the device broke the rule
          fits = false;
          break;
        }
        if (w > BUF_SIZE) w = BUF_SIZE;
        if (fits && n + w <= p.gather_size) __builtin_memcpy(p.gather + n, more, w);
        else fits = false;
        n += w;
        Virtqueue::Buf buf{virt_to_phys(more), uint32_t(BUF_SIZE), true};
        (void)p.rx.vq.add(&buf, 1, more);
      }
      if (fits) {
        deliver_received(p, p.gather, n, h);
      } else {
        SpinGuard g(stats_lock_);
        ++stats_.rx_dropped;
      }
    }
    Virtqueue::Buf buf{virt_to_phys(b), uint32_t(BUF_SIZE), true};
    (void)p.rx.vq.add(&buf, 1, b);  // the ring had room for it a moment ago
  }
  if (any && p.rx.vq.kick_prepare()) t_->notify(p.rx.index);
  return any;
}

void VirtioNet::rx_loop(Pair& p) {
  bool pinned = p.k == 0;  // the first pair's thread goes where the scheduler puts it, as before
  for (;;) {
    p.wake.down();
    // Pair k's thread runs on CPU k once that CPU is up (the probe runs
    // before the other CPUs start); CPU k's sends use pair k too.
    if (!pinned && p.k < cpu_count()) {
      (void)thread_pin(thread_current(), int(p.k));  // refused: it runs where the scheduler puts it
      pinned = true;
    }
    if (p.k == 0) read_link();  // a configuration interrupt comes the same way
    drain_tx_backlog(p);  // and a transmit completion while a backlog waits
    // Busy: no interrupts while frames keep coming [§2.7.7].
    p.rx.vq.disable_interrupts();
    while (drain_rx(p)) {
    }
    p.rx.vq.enable_interrupts();
    // A frame used between the last look and enable_interrupts raised no
    // interrupt: look once more.
    if (p.rx.vq.has_used()) p.wake.up();
  }
}

}  // namespace

Result<void> net_probe(Transport& t) {
  // TSO needs the device's checksums [§5.1.3.1]; large receive needs ours
  // and merged buffers (the receive buffers are 2 KiB).
  auto fixup = [](uint64_t f) {
    if (!(f & F_CSUM)) f &= ~(F_HOST_TSO4 | F_HOST_TSO6);
    if (!(f & F_GUEST_CSUM) || !(f & F_MRG_RXBUF)) f &= ~(F_GUEST_TSO4 | F_GUEST_TSO6);
    // Several pairs need the control queue to turn them on [§5.1.3.1],
    // and the control queue is only there for them.
    if ((f & (F_MQ | F_CTRL_VQ)) != (F_MQ | F_CTRL_VQ)) f &= ~(F_MQ | F_CTRL_VQ);
    return f;
  };
  // One CPU: one pair, and the features of one pair only (as before MQ).
  const uint64_t mq = cpus_expected() > 1 ? F_MQ | F_CTRL_VQ : 0;
  uint64_t f = TRY(negotiate(
      t, F_CSUM | F_GUEST_CSUM | F_MAC | F_GUEST_TSO4 | F_GUEST_TSO6 | F_HOST_TSO4 | F_HOST_TSO6 | F_MRG_RXBUF |
             F_STATUS | mq,
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
