// virtio-blk [virtio 1.2 §5.2] on either transport, as a block::Device
// (drivers/include/drivers/block.h, docs/block.md).
//
// Features: SIZE_MAX and SEG_MAX (bounds on one request's buffers),
// BLK_SIZE (the logical block size), RO (the device refuses writes: so do
// we, before asking it), FLUSH (the device has a volatile cache; without
// it a flush is a no-op), MQ (several request queues: one per CPU up to
// the device's num_queues, a request going to its submitter's CPU's
// queue), DISCARD and WRITE_ZEROES (one 16-byte segment per request, the
// range split by the device's limits in block::Device).
//
// A request is one descriptor chain: the 16-byte header (device-readable),
// the data split at page boundaries (direct-map memory is contiguous, but
// the device is given no more than a page per descriptor so the bound is
// simple), then the one status byte (device-writable) [§5.2.6]. The
// submitting thread sleeps on the request's semaphore; the interrupt
// handler takes the used chains of every queue (one interrupt serves the
// device: virtio-mmio has one line, and virtio-pci binds every queue to
// MSI-X entry 0) and wakes their threads. When a queue's ring has no room,
// its submitters sleep on its `room` (a count of free request slots).
#include <new>

#include "arch/acpi.h"
#include "arch/percpu.h"
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
                   F_FLUSH = 1ull << 9, F_MQ = 1ull << 12, F_DISCARD = 1ull << 13, F_WRITE_ZEROES = 1ull << 14;
// Configuration [§5.2.4]: capacity (le64) at 0, size_max at 8, seg_max at
// 12, blk_size at 20, num_queues (le16) at 34, max_discard_sectors at 36,
// max_discard_seg at 40, discard_sector_alignment at 44,
// max_write_zeroes_sectors at 48, max_write_zeroes_seg at 52,
// write_zeroes_may_unmap (u8) at 56.
constexpr size_t CONFIG_CAPACITY = 0, CONFIG_SIZE_MAX = 8, CONFIG_SEG_MAX = 12, CONFIG_BLK_SIZE = 20,
                 CONFIG_NUM_QUEUES = 34, CONFIG_MAX_DISCARD_SECTORS = 36, CONFIG_MAX_DISCARD_SEG = 40,
                 CONFIG_DISCARD_ALIGNMENT = 44, CONFIG_MAX_WRITE_ZEROES_SECTORS = 48,
                 CONFIG_MAX_WRITE_ZEROES_SEG = 52, CONFIG_WRITE_ZEROES_MAY_UNMAP = 56;

// Request types and status values [§5.2.6].
constexpr uint32_t T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13;
constexpr uint8_t S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
constexpr size_t ID_BYTES = 20;  // VIRTIO_BLK_ID_BYTES
constexpr uint32_t SEG_F_UNMAP = 1;  // virtio_blk_discard_write_zeroes.flags

constexpr uint16_t QUEUE_SIZE = 128;
constexpr uint16_t MAX_QUEUES = 16;
// Data descriptors per request at most (a request carries at most this many
// pages; longer transfers are split).
constexpr uint32_t MAX_DATA_SEGS = 32;

// The parts of a request the device reads and writes: in heap memory (the
// direct map), never on a kernel stack.
struct Wire {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
  // The one segment of a discard or write-zeroes request [§5.2.6]:
  // struct virtio_blk_discard_write_zeroes.
  uint64_t seg_sector;
  uint32_t seg_sectors;
  uint32_t seg_flags;
  uint8_t status;
};
static_assert(__builtin_offsetof(Wire, seg_sector) == 16 && __builtin_offsetof(Wire, status) == 32);
struct Request {
  Wire w;
  Semaphore done;
};

// One request queue (requestq<index+1>) with its own lock and free slots.
struct Queue {
  uint16_t index = 0;
  SpinLock lock;  // taken with interrupts off: the handler takes it too
  Virtqueue vq GUARDED_BY(lock);
  Semaphore room;  // free request slots in the ring
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
  Result<void> trim(Trim op, uint64_t sector, uint32_t count) override;
  // One request: header, data (len bytes at buf, may be 0) or the
  // discard/write-zeroes segment `seg` (then buf is unused), status.
  Result<void> submit(uint32_t type, uint64_t sector, uint8_t* buf, size_t len, const Wire* seg = nullptr);
  Result<void> setup_queue(Queue& q, uint16_t size);
  // The queue of the CPU the caller runs on (a hint: if the thread moves
  // meanwhile, the request still goes through its queue, under its lock).
  Queue& pick() { return *queues_[nqueues_ == 1 ? 0 : this_cpu()->index % nqueues_]; }

  Transport* t_ = nullptr;
  bool has_flush_ = false;
  uint32_t max_segs_ = MAX_DATA_SEGS;   // data descriptors per request
  uint32_t seg_bytes_ = PAGE_SIZE;      // bytes per data descriptor
  uint16_t nqueues_ = 0;                // set before DRIVER_OK, then fixed
  bool may_unmap_ = false;              // write-zeroes may free what it zeroes (write_zeroes_may_unmap)
  Queue* queues_[MAX_QUEUES] = {};
};

void VirtioBlk::complete() {
  // Interrupt context (interrupts are off already): one interrupt for the
  // device, so every queue is looked at.
  for (uint16_t i = 0; i < nqueues_; ++i) {
    Queue& q = *queues_[i];
    SpinGuard g(q.lock);
    void* token;
    while (q.vq.pop_used(&token, nullptr)) static_cast<Request*>(token)->done.up();
  }
}

Result<void> VirtioBlk::submit(uint32_t type, uint64_t sector, uint8_t* buf, size_t len, const Wire* seg) {
  auto* req = new (std::nothrow) Request{{type, 0, sector, 0, 0, 0, 0xff}, Semaphore(0)};
  if (!req) return Error::NoMemory;
  Virtqueue::Buf bufs[MAX_DATA_SEGS + 2];
  size_t n = 0;
  bufs[n++] = {virt_to_phys(req), 16, false};
  if (seg) {
    req->w.seg_sector = seg->seg_sector;
    req->w.seg_sectors = seg->seg_sectors;
    req->w.seg_flags = seg->seg_flags;
    bufs[n++] = {virt_to_phys(&req->w.seg_sector), 16, false};
    len = 0;
  }
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
  bufs[n++] = {virt_to_phys(&req->w.status), 1, true};
  Queue& q = pick();
  q.room.down();  // sleeps while the ring is full
  bool notify;
  Result<void> added;
  {
    IrqGuard irq;
    SpinGuard g(q.lock);
    added = q.vq.add(bufs, n, req);
    notify = added.ok() && q.vq.kick_prepare();
  }
  if (!added.ok()) {  // cannot happen: room counts whole requests
    q.room.up();
    delete req;
    return added.error();
  }
  // --trace=block (core/trace.h): the request as the device got it, and as
  // its submitter sees it done; the request's address pairs the two.
  trace::point<trace::Event::BlockSubmit>(sector, bytes, type, reinterpret_cast<uintptr_t>(req));
  if (notify) t_->notify(q.index);
  req->done.down();  // woken by complete()
  q.room.up();
  uint8_t status = req->w.status;
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

Result<void> VirtioBlk::trim(Trim op, uint64_t sector, uint32_t count) {
  // The header's sector is unused: the segment carries the range [§5.2.6].
  Wire seg{};
  seg.seg_sector = sector;
  seg.seg_sectors = count;
  seg.seg_flags = op == Trim::ZeroesUnmap && may_unmap_ ? SEG_F_UNMAP : 0;
  return submit(op == Trim::Discard ? T_DISCARD : T_WRITE_ZEROES, 0, nullptr, 0, &seg);
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
  // Discard and write-zeroes [§5.2.5]: the limits per request (one segment
  // each: max_*_seg is at least 1). A zero limit from the device means it
  // cannot take the request at all: not offered.
  if (features & F_DISCARD) {
    discard_.max_sectors = t.config32(CONFIG_MAX_DISCARD_SECTORS);
    uint32_t a = t.config32(CONFIG_DISCARD_ALIGNMENT);
    discard_.alignment = a ? a : 1;
    if (!t.config32(CONFIG_MAX_DISCARD_SEG)) discard_.max_sectors = 0;
  }
  if (features & F_WRITE_ZEROES) {
    zeroes_.max_sectors = t.config32(CONFIG_MAX_WRITE_ZEROES_SECTORS);
    if (!t.config32(CONFIG_MAX_WRITE_ZEROES_SEG)) zeroes_.max_sectors = 0;
    may_unmap_ = t.config8(CONFIG_WRITE_ZEROES_MAY_UNMAP);
  }
  // Queues: one per CPU the firmware lists, up to the device's number [§5.2.5].
  uint16_t want = 1;
  if (features & F_MQ) {
    uint16_t offered = t.config16(CONFIG_NUM_QUEUES);
    size_t cpus = acpi_info().cpu_count ? acpi_info().cpu_count : 1;
    want = uint16_t(cpus < offered ? cpus : offered);
    if (want > MAX_QUEUES) want = MAX_QUEUES;
    if (!want) want = 1;
  }
  TRY(t.setup_irq(on_irq, this));  // before the queues (MSI-X binding)
  for (uint16_t i = 0; i < want; ++i) {
    uint16_t max = t.queue_max(i);
    if (!max) {
      if (!i) return Error::NotFound;
      break;  // fewer than it said: the ones set up serve
    }
    uint16_t size = max < QUEUE_SIZE ? max : QUEUE_SIZE;
    size = uint16_t(1u << (31 - __builtin_clz(size)));  // a power of two
    if (size < 4) return Error::NotSupported;
    if (max_segs_ + 2 > size) max_segs_ = size - 2;
    auto* q = new (std::nothrow) Queue;
    if (!q) return Error::NoMemory;
    q->index = i;
    TRY(setup_queue(*q, size));
    queues_[i] = q;
    nqueues_ = uint16_t(i + 1);
  }
  for (uint16_t i = 0; i < nqueues_; ++i) {
    uint16_t size;
    {
      IrqGuard irq;
      SpinGuard g(queues_[i]->lock);
      size = queues_[i]->vq.size();
    }
    for (uint32_t k = 0; k < size / (max_segs_ + 2); ++k) queues_[i]->room.up();
  }
  t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  log_info("{}: virtio-blk ({}) {} sectors ({} MiB), block {}{}{}, {} queue{}{}{}", name_, t.kind(), sectors_,
           sectors_ >> 11, block_size_, read_only_ ? ", read-only" : "", has_flush_ ? ", write cache (flush)" : "",
           nqueues_, nqueues_ == 1 ? "" : "s", can_discard() ? ", discard" : "",
           can_write_zeroes() ? ", write-zeroes" : "");
  return {};
}

Result<void> VirtioBlk::setup_queue(Queue& q, uint16_t size) {
  size_t bytes = Virtqueue::bytes(size);
  unsigned order = 0;
  while ((PAGE_SIZE << order) < bytes) ++order;
  uint64_t page = TRY(page_alloc(order));
  void* mem = phys_to_virt(page);
  __builtin_memset(mem, 0, PAGE_SIZE << order);
  IrqGuard irq;
  SpinGuard g(q.lock);
  TRY(q.vq.init(size, mem, page));
  TRY(t_->queue_setup(q.index, size, q.vq.desc_phys(), q.vq.avail_phys(), q.vq.used_phys()));
  return {};
}

unsigned g_count;

}  // namespace

Result<void> blk_probe(Transport& t) {
  uint64_t f = TRY(negotiate(t, F_SIZE_MAX | F_SEG_MAX | F_RO | F_BLK_SIZE | F_FLUSH | F_MQ | F_DISCARD | F_WRITE_ZEROES));
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
