// virtio-9p (device type 9, "9P transport" in virtio 1.2 §5; the device is
// defined by QEMU's hw/9pfs/virtio-9p-device.c) on either transport, as a
// P9Channel
// (drivers/include/drivers/p9_channel.h, docs/9p.md).
//
// One queue (requests, 0). Each request is a chain of two buffers: the
// T-message (device-readable), then room for the R-message
// (device-writable). Feature MOUNT_TAG: the configuration holds the tag
// (tag_len[2] then the bytes, no NUL) that names the device.
//
// SLOTS requests may be in flight at once; each slot owns its buffers, its
// 9P tag (the slot's index) and a semaphore its caller sleeps on. The
// interrupt handler pops the used chains and wakes their callers: nothing
// spins.
#include <new>

#include "lib/log.h"
#include "core/mm.h"
#include "core/sync/wait_queue.h"
#include "drivers/p9_channel.h"
#include "drivers/virtio/transport.h"
#include "drivers/virtio/virtqueue.h"

namespace capsule::virtio {
namespace {

constexpr uint64_t F_MOUNT_TAG = 1ull << 0;  // VIRTIO_9P_MOUNT_TAG
constexpr size_t CONFIG_TAG_LEN = 0, CONFIG_TAG = 2;
constexpr size_t MAX_TAG = 64;
constexpr uint16_t REQUEST_QUEUE = 0;
constexpr uint16_t QUEUE_SIZE = 128;
constexpr size_t SLOTS = 8;
constexpr unsigned BUF_ORDER = 4;  // 64 KiB per buffer: the largest message
constexpr size_t BUF_SIZE = PAGE_SIZE << BUF_ORDER;

struct VirtioSlot : P9Slot {
  uint16_t index = 0;
  bool busy = false;            // under free_lock_
  uint32_t written = 0;         // reply bytes, set by the interrupt handler
  Semaphore done;
};

class Virtio9p final : public P9Channel {
 public:
  StringView tag() const override { return {tag_, tag_len_}; }
  size_t max_message() const override { return BUF_SIZE; }
  P9Slot* acquire() override;
  void release(P9Slot* s) override;
  Result<size_t> transact(P9Slot& s, size_t len) override;

  Result<void> start(Transport& t);

 private:
  static void on_irq(void* self) { static_cast<Virtio9p*>(self)->complete(); }
  void complete();

  Transport* t_ = nullptr;
  char tag_[MAX_TAG] = {};
  size_t tag_len_ = 0;
  SpinLock vq_lock_;
  Virtqueue vq_ GUARDED_BY(vq_lock_);
  Semaphore free_{int64_t(SLOTS)};  // counts free slots
  SpinLock free_lock_;
  VirtioSlot slots_[SLOTS];
};

Result<void> Virtio9p::start(Transport& t) {
  t_ = &t;
  size_t n = t.config16(CONFIG_TAG_LEN);
  if (n == 0 || n >= MAX_TAG) return Error::Invalid;
  for (size_t i = 0; i < n; ++i) tag_[i] = char(t.config8(CONFIG_TAG + i));
  tag_len_ = n;
  TRY(t.setup_irq(on_irq, this));  // before the queue (MSI-X binding)
  uint16_t max = t.queue_max(REQUEST_QUEUE);
  if (max < 2 * SLOTS) return Error::NotFound;
  uint16_t size = max < QUEUE_SIZE ? max : QUEUE_SIZE;
  size = uint16_t(1u << (31 - __builtin_clz(size)));
  size_t bytes = Virtqueue::bytes(size);
  unsigned order = 0;
  while ((PAGE_SIZE << order) < bytes) ++order;
  uint64_t page = TRY(page_alloc(order));
  __builtin_memset(phys_to_virt(page), 0, PAGE_SIZE << order);
  {
    SpinGuard g(vq_lock_);
    TRY(vq_.init(size, phys_to_virt(page), page));
    TRY(t.queue_setup(REQUEST_QUEUE, size, vq_.desc_phys(), vq_.avail_phys(), vq_.used_phys()));
  }
  for (size_t i = 0; i < SLOTS; ++i) {
    slots_[i].out = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(BUF_ORDER))));
    slots_[i].in = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(BUF_ORDER))));
    slots_[i].cap = BUF_SIZE;
    slots_[i].index = uint16_t(i);
  }
  t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  log_info("9p: virtio-9p ({}) mount tag '{}', queue {}", t.kind(), tag(), size);
  return {};
}

P9Slot* Virtio9p::acquire() {
  free_.down();
  SpinGuard g(free_lock_);
  for (VirtioSlot& s : slots_) {
    if (!s.busy) {
      s.busy = true;
      return &s;
    }
  }
  __builtin_trap();  // the semaphore counts free slots: one is free
}

void Virtio9p::release(P9Slot* s) {
  {
    SpinGuard g(free_lock_);
    static_cast<VirtioSlot*>(s)->busy = false;
  }
  free_.up();
}

Result<size_t> Virtio9p::transact(P9Slot& slot, size_t len) {
  auto& s = static_cast<VirtioSlot&>(slot);
  if (len < 7 || len > BUF_SIZE) return Error::Invalid;
  // The tag [9P: size[4] type[1] tag[2]] is the slot's: unique among the
  // requests in flight. Tversion keeps NOTAG, as version(5) asks.
  constexpr uint8_t TVERSION = 100;
  if (s.out[4] != TVERSION) {
    s.out[5] = uint8_t(s.index);
    s.out[6] = uint8_t(s.index >> 8);
  }
  Virtqueue::Buf bufs[2] = {{virt_to_phys(s.out), uint32_t(len), false},
                            {virt_to_phys(s.in), uint32_t(BUF_SIZE), true}};
  bool notify;
  {
    SpinGuard g(vq_lock_);
    TRY(vq_.add(bufs, 2, &s));  // 2 * SLOTS descriptors fit: never NoSpace
    notify = vq_.kick_prepare();
  }
  if (notify) t_->notify(REQUEST_QUEUE);
  s.done.down();
  if (s.written < 7 || s.written > BUF_SIZE) return Error::Io;
  return size_t(s.written);
}

// Interrupt context: every used chain wakes its caller.
void Virtio9p::complete() {
  SpinGuard g(vq_lock_);
  void* token;
  uint32_t written;
  while (vq_.pop_used(&token, &written)) {
    auto* s = static_cast<VirtioSlot*>(token);
    s->written = written;
    s->done.up();
  }
}

}  // namespace

Result<void> p9_probe(Transport& t) {
  uint64_t f = TRY(negotiate(t, F_MOUNT_TAG));
  if (!(f & F_MOUNT_TAG)) {
    t.set_status(STATUS_FAILED);
    return Error::NotSupported;  // a device without a name cannot be asked for
  }
  auto* dev = new (std::nothrow) Virtio9p;
  if (!dev) {
    t.set_status(STATUS_FAILED);
    return Error::NoMemory;
  }
  if (auto r = dev->start(t); !r.ok()) {
    t.set_status(STATUS_FAILED);
    return r.error();  // its memory stays: a failed device is not retried
  }
  register_p9_channel(dev);
  return {};
}

}  // namespace capsule::virtio

namespace capsule::virtio {
namespace {
constexpr size_t MAX_CHANNELS = 16;
P9Channel* g_channels[MAX_CHANNELS];
size_t g_channel_count;  // written at boot by virtio_init, read after it
}  // namespace

void register_p9_channel(P9Channel* c) {
  if (g_channel_count < MAX_CHANNELS) g_channels[g_channel_count++] = c;
  else log_warn("9p: more than {} devices; '{}' ignored", MAX_CHANNELS, c->tag());
}

P9Channel* find_p9_channel(StringView tag) {
  for (size_t i = 0; i < g_channel_count; ++i)
    if (g_channels[i]->tag() == tag) return g_channels[i];
  return nullptr;
}

}  // namespace capsule::virtio
