// virtio-fs (device type 26, virtio 1.2 §5.11) on either transport, as a
// FuseChannel (drivers/include/drivers/fuse_channel.h, docs/virtiofs.md).
//
// Configuration: tag[36] (NUL-padded, names the device), then
// num_request_queues le32. Queue 0 is hiprio (FORGET: requests with no
// reply), queues 1.. carry requests; this driver uses request queue 1
// only. A request is a chain: device-readable fuse_in_header + arguments,
// then device-writable room for fuse_out_header + reply [§5.11.6].
//
// SLOTS requests may be in flight; each slot owns its buffers and a
// semaphore its caller sleeps on. The interrupt handler pops the used
// chains of both queues and wakes their callers: nothing spins.
#include <new>

#include "lib/log.h"
#include "core/mm.h"
#include "core/sync/wait_queue.h"
#include "drivers/fuse_channel.h"
#include "drivers/virtio/transport.h"
#include "drivers/virtio/virtqueue.h"

namespace capsule::virtio {
namespace {

constexpr size_t CONFIG_TAG = 0, TAG_LEN = 36, CONFIG_NUM_QUEUES = 36;
constexpr uint16_t HIPRIO_QUEUE = 0, REQUEST_QUEUE = 1;
constexpr uint16_t QUEUE_SIZE = 128;
constexpr size_t SLOTS = 8;
constexpr unsigned BUF_ORDER = 5;  // 128 KiB per buffer: 64 KiB of data and the headers
constexpr size_t BUF_SIZE = PAGE_SIZE << BUF_ORDER;

struct VirtioFsSlot : FuseSlot {
  bool busy = false;     // under free_lock_
  uint32_t written = 0;  // reply bytes, set by the interrupt handler
  Semaphore done;
};

struct Queue {
  SpinLock lock;
  Virtqueue vq GUARDED_BY(lock);
};

class VirtioFs final : public FuseChannel {
 public:
  StringView tag() const override { return {tag_, tag_len_}; }
  size_t max_message() const override { return BUF_SIZE; }
  FuseSlot* acquire() override;
  void release(FuseSlot* s) override;
  Result<size_t> transact(FuseSlot& s, size_t len, size_t reply_max) override;
  Result<void> send_forget(FuseSlot& s, size_t len) override;

  Result<void> start(Transport& t);

 private:
  static void on_irq(void* self) { static_cast<VirtioFs*>(self)->complete(); }
  void complete();
  Result<void> setup_queue(uint16_t index, Queue& q);
  Result<void> submit(uint16_t index, Queue& q, const Virtqueue::Buf* bufs, size_t n, VirtioFsSlot& s);

  Transport* t_ = nullptr;
  char tag_[TAG_LEN] = {};
  size_t tag_len_ = 0;
  Queue hiprio_, request_;
  Semaphore free_{int64_t(SLOTS)};  // counts free slots
  SpinLock free_lock_;
  VirtioFsSlot slots_[SLOTS];
};

Result<void> VirtioFs::setup_queue(uint16_t index, Queue& q) {
  uint16_t max = t_->queue_max(index);
  if (max < 2 * SLOTS) return Error::NotFound;
  uint16_t size = max < QUEUE_SIZE ? max : QUEUE_SIZE;
  size = uint16_t(1u << (31 - __builtin_clz(size)));
  size_t bytes = Virtqueue::bytes(size);
  unsigned order = 0;
  while ((PAGE_SIZE << order) < bytes) ++order;
  uint64_t page = TRY(page_alloc(order));
  __builtin_memset(phys_to_virt(page), 0, PAGE_SIZE << order);
  SpinGuard g(q.lock);
  TRY(q.vq.init(size, phys_to_virt(page), page));
  TRY(t_->queue_setup(index, size, q.vq.desc_phys(), q.vq.avail_phys(), q.vq.used_phys()));
  return {};
}

Result<void> VirtioFs::start(Transport& t) {
  t_ = &t;
  for (size_t i = 0; i < TAG_LEN; ++i) {
    char c = char(t.config8(CONFIG_TAG + i));
    if (!c) break;
    tag_[i] = c;
    tag_len_ = i + 1;
  }
  if (!tag_len_) return Error::Invalid;
  if (t.config32(CONFIG_NUM_QUEUES) < 1) return Error::NotFound;
  TRY(t.setup_irq(on_irq, this));  // before the queues (MSI-X binding)
  TRY(setup_queue(HIPRIO_QUEUE, hiprio_));
  TRY(setup_queue(REQUEST_QUEUE, request_));
  for (VirtioFsSlot& s : slots_) {
    s.out = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(BUF_ORDER))));
    s.in = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(BUF_ORDER))));
    s.cap = BUF_SIZE;
  }
  t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  log_info("virtiofs: virtio-fs ({}) tag '{}'", t.kind(), tag());
  return {};
}

FuseSlot* VirtioFs::acquire() {
  free_.down();
  SpinGuard g(free_lock_);
  for (VirtioFsSlot& s : slots_) {
    if (!s.busy) {
      s.busy = true;
      return &s;
    }
  }
  __builtin_trap();  // the semaphore counts free slots: one is free
}

void VirtioFs::release(FuseSlot* s) {
  {
    SpinGuard g(free_lock_);
    static_cast<VirtioFsSlot*>(s)->busy = false;
  }
  free_.up();
}

Result<void> VirtioFs::submit(uint16_t index, Queue& q, const Virtqueue::Buf* bufs, size_t n,
                              VirtioFsSlot& s) {
  bool notify;
  {
    SpinGuard g(q.lock);
    s.written = 0;
    TRY(q.vq.add(bufs, n, &s));  // 2 * SLOTS descriptors fit: never NoSpace
    notify = q.vq.kick_prepare();
  }
  if (notify) t_->notify(index);
  s.done.down();
  return {};
}

Result<size_t> VirtioFs::transact(FuseSlot& slot, size_t len, size_t reply_max) {
  auto& s = static_cast<VirtioFsSlot&>(slot);
  if (len == 0 || len > BUF_SIZE || reply_max == 0) return Error::Invalid;
  if (reply_max > BUF_SIZE) reply_max = BUF_SIZE;
  Virtqueue::Buf bufs[2] = {{virt_to_phys(s.out), uint32_t(len), false},
                            {virt_to_phys(s.in), uint32_t(reply_max), true}};
  TRY(submit(REQUEST_QUEUE, request_, bufs, 2, s));
  if (s.written > reply_max) return Error::Io;
  return size_t(s.written);
}

Result<void> VirtioFs::send_forget(FuseSlot& slot, size_t len) {
  auto& s = static_cast<VirtioFsSlot&>(slot);
  if (len == 0 || len > BUF_SIZE) return Error::Invalid;
  Virtqueue::Buf buf = {virt_to_phys(s.out), uint32_t(len), false};
  return submit(HIPRIO_QUEUE, hiprio_, &buf, 1, s);
}

// Interrupt context: every used chain of either queue wakes its caller.
void VirtioFs::complete() {
  Queue* queues[2] = {&hiprio_, &request_};
  for (Queue* q : queues) {
    SpinGuard g(q->lock);
    void* token;
    uint32_t written;
    while (q->vq.pop_used(&token, &written)) {
      auto* s = static_cast<VirtioFsSlot*>(token);
      s->written = written;
      s->done.up();
    }
  }
}

}  // namespace

Result<void> fs_probe(Transport& t) {
  TRY(negotiate(t, 0));
  auto* dev = new (std::nothrow) VirtioFs;
  if (!dev) {
    t.set_status(STATUS_FAILED);
    return Error::NoMemory;
  }
  if (auto r = dev->start(t); !r.ok()) {
    t.set_status(STATUS_FAILED);
    return r.error();  // its memory stays: a failed device is not retried
  }
  register_fuse_channel(dev);
  return {};
}

namespace {
constexpr size_t MAX_CHANNELS = 16;
FuseChannel* g_channels[MAX_CHANNELS];
size_t g_channel_count;  // written at boot by virtio_init, read after it
}  // namespace

void register_fuse_channel(FuseChannel* c) {
  if (g_channel_count < MAX_CHANNELS) g_channels[g_channel_count++] = c;
  else log_warn("virtiofs: more than {} devices; '{}' ignored", MAX_CHANNELS, c->tag());
}

FuseChannel* find_fuse_channel(StringView tag) {
  for (size_t i = 0; i < g_channel_count; ++i)
    if (g_channels[i]->tag() == tag) return g_channels[i];
  return nullptr;
}

}  // namespace capsule::virtio
