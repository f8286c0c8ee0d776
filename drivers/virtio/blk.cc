// virtio-blk [virtio 1.2 §5.2] on either transport, as a block::Device
// (drivers/include/drivers/block.h, docs/block.md).
//
// One request queue (requestq1). Features: SIZE_MAX and SEG_MAX (bounds on
// one request's buffers), BLK_SIZE (the logical block size), RO (the
// device refuses writes: so do we, before asking it), FLUSH (the device has
// a volatile cache; without it a flush is a no-op). MQ is not asked for:
// one queue serves the few requests a file system's cache sends.
//
// A request is one descriptor chain: the 16-byte header (device-readable),
// the data split at page boundaries (direct-map memory is contiguous, but
// the device is given no more than a page per descriptor so the bound is
// simple), then the one status byte (device-writable) [§5.2.6]. The
// submitting thread sleeps on the request's semaphore; the interrupt
// handler takes the used chains and wakes their threads. When the ring has
// no room, submitters sleep on `room_` (a count of free request slots).
#include <new>

#include "lib/log.h"
#include "core/mm.h"
#include "core/trace.h"
#include "core/sync/wait_queue.h"
#include "drivers/block.h"
#include "drivers/virtio/transport.h"
#include "drivers/virtio/virtqueue.h"

namespace capsule::virtio {
namespace {

// Feature bits [§5.2.3].
constexpr uint64_t F_SIZE_MAX = 1ull << 1, F_SEG_MAX = 1ull << 2, F_RO = 1ull << 5, F_BLK_SIZE = 1ull << 6,
                   F_FLUSH = 1ull << 9;
// Configuration [§5.2.4]: capacity (le64) at 0, size_max at 8, seg_max at
// 12, blk_size at 20.
constexpr size_t CONFIG_CAPACITY = 0, CONFIG_SIZE_MAX = 8, CONFIG_SEG_MAX = 12, CONFIG_BLK_SIZE = 20;

// Request types and status values [§5.2.6].
constexpr uint32_t T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8;
constexpr uint8_t S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
constexpr size_t ID_BYTES = 20;  // VIRTIO_BLK_ID_BYTES

constexpr uint16_t REQUEST_QUEUE = 0;
constexpr uint16_t QUEUE_SIZE = 128;
// Data descriptors per request at most (a request carries at most this many
// pages; longer transfers are split).
constexpr uint32_t MAX_DATA_SEGS = 32;

// The parts of a request the device reads and writes: in heap memory (the
// direct map), never on a kernel stack.
struct Request {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
  uint8_t status;
  Semaphore done;
};

class VirtioBlk final : public block::Device {
 public:
  Result<void> flush() override;
  Result<void> identity(char* buf, size_t cap) override;

  Result<void> start(Transport& t, uint64_t features, unsigned index);

 private:
  static void on_irq(void* self) { static_cast<VirtioBlk*>(self)->complete(); }
  void complete();
  Result<void> transfer(bool write, uint64_t sector, uint8_t* buf, size_t count) override;
  // One request: header, data (len bytes at buf, may be 0), status.
  Result<void> submit(uint32_t type, uint64_t sector, uint8_t* buf, size_t len);

  Transport* t_ = nullptr;
  bool has_flush_ = false;
  uint32_t max_segs_ = MAX_DATA_SEGS;   // data descriptors per request
  uint32_t seg_bytes_ = PAGE_SIZE;      // bytes per data descriptor
  SpinLock lock_;                       // taken with interrupts off: the handler takes it too
  Virtqueue vq_ GUARDED_BY(lock_);
  Semaphore room_;                      // free request slots in the ring
};

void VirtioBlk::complete() {
  SpinGuard g(lock_);  // interrupt context: interrupts are off already
  void* token;
  while (vq_.pop_used(&token, nullptr)) static_cast<Request*>(token)->done.up();
}

Result<void> VirtioBlk::submit(uint32_t type, uint64_t sector, uint8_t* buf, size_t len) {
  auto* req = new (std::nothrow) Request{type, 0, sector, 0xff, Semaphore(0)};
  if (!req) return Error::NoMemory;
  Virtqueue::Buf bufs[MAX_DATA_SEGS + 2];
  size_t n = 0;
  bufs[n++] = {virt_to_phys(req), 16, false};
  bool device_writes = type == T_IN || type == T_GET_ID;
  const size_t bytes = len;
  while (len) {
    size_t in_page = PAGE_SIZE - (reinterpret_cast<uintptr_t>(buf) & (PAGE_SIZE - 1));
    size_t l = len < in_page ? len : in_page;
    if (l > seg_bytes_) l = seg_bytes_;
    bufs[n++] = {virt_to_phys(buf), uint32_t(l), device_writes};
    buf += l;
    len -= l;
  }
  bufs[n++] = {virt_to_phys(&req->status), 1, true};
  room_.down();  // sleeps while the ring is full
  bool notify;
  Result<void> added;
  {
    IrqGuard irq;
    SpinGuard g(lock_);
    added = vq_.add(bufs, n, req);
    notify = added.ok() && vq_.kick_prepare();
  }
  if (!added.ok()) {  // cannot happen: room_ counts whole requests
    room_.up();
    delete req;
    return added.error();
  }
  // --trace=block (core/trace.h): the request as the device got it, and as
  // its submitter sees it done; the request's address pairs the two.
  trace::point<trace::Event::BlockSubmit>(sector, bytes, type, reinterpret_cast<uintptr_t>(req));
  if (notify) t_->notify(REQUEST_QUEUE);
  req->done.down();  // woken by complete()
  room_.up();
  uint8_t status = req->status;
  trace::point<trace::Event::BlockComplete>(sector, bytes, type, status);
  delete req;
  if (status == S_OK) return {};
  if (status != S_IOERR && status != S_UNSUPP)
    log_warn("{}: device answered status {} (not a virtio-blk status)", name_, status);
  return Error::Io;  // VIRTIO_BLK_S_IOERR, _UNSUPP: the caller sees EIO
}

Result<void> VirtioBlk::transfer(bool write, uint64_t sector, uint8_t* buf, size_t count) {
  const uint32_t type = write ? T_OUT : T_IN;
  // The largest request: max_segs_ descriptors of at most a page (one more
  // if buf is not page aligned is accounted by taking one page fewer).
  size_t max_bytes = size_t(max_segs_ - 1) * (seg_bytes_ < PAGE_SIZE ? seg_bytes_ : PAGE_SIZE);
  size_t max_sectors = max_bytes / block::SECTOR_SIZE;
  if (!max_sectors) max_sectors = 1;
  while (count) {
    size_t n = count < max_sectors ? count : max_sectors;
    TRY(submit(type, sector, buf, n * block::SECTOR_SIZE));
    sector += n;
    buf += n * block::SECTOR_SIZE;
    count -= n;
  }
  return {};
}

Result<void> VirtioBlk::flush() {
  if (!has_flush_) return {};  // no volatile cache: writes are stable when done [§5.2.6.2]
  return submit(T_FLUSH, 0, nullptr, 0);
}

Result<void> VirtioBlk::identity(char* buf, size_t cap) {
  if (!cap) return Error::Range;
  auto* id = static_cast<uint8_t*>(kzalloc(ID_BYTES));
  if (!id) return Error::NoMemory;
  Result<void> r = submit(T_GET_ID, 0, id, ID_BYTES);
  size_t n = 0;
  if (r.ok()) {
    // Up to 20 bytes, NUL terminated only when shorter [§5.2.6].
    while (n < ID_BYTES && n + 1 < cap && id[n]) {
      buf[n] = char(id[n]);
      ++n;
    }
  }
  buf[n] = 0;
  kfree(id);
  return r;
}

Result<void> VirtioBlk::start(Transport& t, uint64_t features, unsigned index) {
  t_ = &t;
  name_[0] = 'v', name_[1] = 'd', name_[2] = char('a' + (index < 26 ? index : 25));
  // A 64-bit field read as two halves: read again until stable [§2.5.1].
  uint32_t lo, hi;
  do {
    hi = t.config32(CONFIG_CAPACITY + 4);
    lo = t.config32(CONFIG_CAPACITY);
  } while (hi != t.config32(CONFIG_CAPACITY + 4));
  sectors_ = uint64_t(hi) << 32 | lo;
  read_only_ = features & F_RO;
  has_flush_ = features & F_FLUSH;
  if (features & F_BLK_SIZE) {
    uint32_t bs = t.config32(CONFIG_BLK_SIZE);
    if (bs >= block::SECTOR_SIZE && bs <= PAGE_SIZE && !(bs & (bs - 1))) block_size_ = bs;
  }
  if (features & F_SEG_MAX) {
    uint32_t s = t.config32(CONFIG_SEG_MAX);
    if (s >= 2 && s < max_segs_) max_segs_ = s;  // 1 would leave no room for an unaligned page
  }
  if (features & F_SIZE_MAX) {
    uint32_t s = t.config32(CONFIG_SIZE_MAX);
    if (s >= block::SECTOR_SIZE && s < seg_bytes_) seg_bytes_ = s & ~uint32_t(block::SECTOR_SIZE - 1);
  }
  TRY(t.setup_irq(on_irq, this));  // before the queue (MSI-X binding)
  uint16_t max = t.queue_max(REQUEST_QUEUE);
  if (!max) return Error::NotFound;
  uint16_t size = max < QUEUE_SIZE ? max : QUEUE_SIZE;
  size = uint16_t(1u << (31 - __builtin_clz(size)));  // a power of two
  if (size < 4) return Error::NotSupported;
  if (max_segs_ + 2 > size) max_segs_ = size - 2;
  size_t bytes = Virtqueue::bytes(size);
  unsigned order = 0;
  while ((PAGE_SIZE << order) < bytes) ++order;
  uint64_t page = TRY(page_alloc(order));
  void* mem = phys_to_virt(page);
  __builtin_memset(mem, 0, PAGE_SIZE << order);
  {
    IrqGuard irq;
    SpinGuard g(lock_);
    TRY(vq_.init(size, mem, page));
    TRY(t.queue_setup(REQUEST_QUEUE, size, vq_.desc_phys(), vq_.avail_phys(), vq_.used_phys()));
  }
  for (uint32_t i = 0; i < size / (max_segs_ + 2); ++i) room_.up();
  t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  log_info("{}: virtio-blk ({}) {} sectors ({} MiB), block {}{}{}", name_, t.kind(), sectors_, sectors_ >> 11,
           block_size_, read_only_ ? ", read-only" : "", has_flush_ ? ", write cache (flush)" : "");
  return {};
}

unsigned g_count;

}  // namespace

Result<void> blk_probe(Transport& t) {
  uint64_t f = TRY(negotiate(t, F_SIZE_MAX | F_SEG_MAX | F_RO | F_BLK_SIZE | F_FLUSH));
  auto* dev = new (std::nothrow) VirtioBlk;
  if (!dev) {
    t.set_status(STATUS_FAILED);
    return Error::NoMemory;
  }
  if (auto r = dev->start(t, f, g_count); !r.ok()) {
    t.set_status(STATUS_FAILED);
    return r.error();  // the device's memory stays: a failed device is not retried
  }
  ++g_count;
  block::register_device(dev);
  return {};
}

}  // namespace capsule::virtio
