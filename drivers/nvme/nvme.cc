// NVMe 1.4 over PCI (class 01:08:02) as a block::Device per controller's
// first namespace (drivers/include/drivers/nvme.h, docs/block.md).
//
// Bring-up [NVMe 1.4 §7.6.1]: disable the controller (CC.EN = 0, wait for
// CSTS.RDY = 0), give it the admin queues (AQA, ASQ, ACQ), enable it and
// wait for CSTS.RDY = 1, each wait bounded by CAP.TO. Admin commands are
// polled (they run at boot only, before interrupts are on): Identify
// Controller (serial -> identity, MDTS, VWC), the active namespace list and
// Identify Namespace (LBA format -> block size, size), Set Features
// (Number of Queues), then one I/O completion queue (MSI-X) and one I/O
// submission queue.
//
// I/O: a command slot per outstanding command (its CID is the slot index),
// each with its own PRP list page. The submitter takes a free slot (it
// sleeps on `room_` when none is free), writes the entry at the SQ tail and
// rings the doorbell, then sleeps on the slot's semaphore; the interrupt
// handler takes the completion entries whose phase tag is current, records
// each slot's status and wakes its thread, then writes the CQ head doorbell.
// At most size-1 commands are outstanding, so neither ring overflows.
#include "drivers/nvme.h"

#include <new>

#include "arch/irq.h"
#include "arch/spinlock.h"
#include "core/mm.h"
#include "core/sync/wait_queue.h"
#include "core/time.h"
#include "core/trace.h"
#include "drivers/block.h"
#include "drivers/nvme/queue.h"
#include "drivers/nvme/spec.h"
#include "drivers/pci/pci.h"
#include "lib/format.h"
#include "lib/log.h"

namespace capsule::nvme {
namespace {

constexpr uint8_t CLASS_STORAGE = 0x01, SUBCLASS_NVM = 0x08, PROG_IF_NVME = 0x02;
constexpr uint16_t ADMIN_ENTRIES = 32;
constexpr uint16_t IO_ENTRIES = 64;      // per I/O queue, at most (CAP.MQES may say fewer)
constexpr uint16_t MAX_SLOTS = 32;       // commands outstanding at once, at most
constexpr uint64_t ADMIN_TIMEOUT_NS = 5'000'000'000ull;
// Bytes per command at most, before MDTS: 128 pages keeps the PRP list in
// one page with room for an unaligned start.
constexpr size_t MAX_COMMAND_BYTES = 128 * NVME_PAGE;
constexpr size_t PRP_LIST_CAP = NVME_PAGE / sizeof(uint64_t);
// --trace=block's op codes are virtio-blk's request types (core/trace.h).
constexpr uint32_t TRACE_READ = 0, TRACE_WRITE = 1, TRACE_FLUSH = 4, TRACE_DISCARD = 11, TRACE_WRITE_ZEROES = 13;
constexpr uint32_t trace_op(uint8_t op) {
  return op == IO_READ ? TRACE_READ : op == IO_WRITE ? TRACE_WRITE : op == IO_DSM ? TRACE_DISCARD
       : op == IO_WRITE_ZEROES ? TRACE_WRITE_ZEROES : TRACE_FLUSH;
}
constexpr const char* op_name(uint8_t op) {
  return op == IO_READ ? "read" : op == IO_WRITE ? "write" : op == IO_DSM ? "deallocate"
       : op == IO_WRITE_ZEROES ? "write-zeroes" : "flush";
}

uint64_t phys_of(uintptr_t v) { return virt_to_phys(reinterpret_cast<const void*>(v)); }

struct Slot {
  Semaphore done{0};
  uint16_t status = 0;
  bool busy = false;           // a command with this CID is at the controller
  uint64_t* prp_list = nullptr;
  uint64_t prp_list_phys = 0;
};

class Controller final : public block::Device {
 public:
  Result<void> flush() override;
  Result<void> identity(char* buf, size_t cap) override;

  // Brings the controller up; an error (one log line said why) when it is
  // unusable.
  Result<void> start(pci::Address a, unsigned index);

 private:
  static void on_irq(void* self) { static_cast<Controller*>(self)->complete(); }
  void complete();

  uint32_t r32(size_t off) { return *reinterpret_cast<volatile uint32_t*>(regs_ + off); }
  void w32(size_t off, uint32_t v) { *reinterpret_cast<volatile uint32_t*>(regs_ + off) = v; }
  void w64(size_t off, uint64_t v) {
    w32(off, uint32_t(v));
    w32(off + 4, uint32_t(v >> 32));
  }
  // Waits (bounded by CAP.TO) until CSTS.RDY is `ready`.
  Result<void> wait_ready(bool ready);
  Result<void> disable();
  Result<void> enable_admin();
  // One admin command, polled; its completion's DW0 in *dw0.
  Result<void> admin(Sqe& e, uint32_t* dw0 = nullptr);
  Result<void> identify(uint32_t cns, uint32_t nsid, uint64_t page_phys);
  Result<void> setup_io_queues(unsigned vector_entry);

  Result<void> transfer(bool write, uint64_t sector, uint8_t* buf, size_t count) override;
  // Whole logical blocks, split at max_bytes_.
  Result<void> transfer_blocks(uint8_t op, uint64_t lba, uint8_t* buf, uint64_t blocks);
  // Sectors [first, first+n) of logical block `lba` through a bounce page.
  Result<void> partial_block(uint8_t op, uint64_t lba, size_t first, size_t n, uint8_t* buf);
  // One I/O command of `len` bytes at `buf` (dword aligned), or a flush;
  // `cdw` (cdw10..12), when given, instead of the LBA and block count.
  Result<void> submit(uint8_t op, uint64_t lba, uint32_t blocks, uint8_t* buf, size_t len,
                      const uint32_t* cdw = nullptr);
  // Deallocate (Dataset Management) and Write Zeroes, where ONCS offers them.
  Result<void> trim(Trim op, uint64_t sector, uint32_t count) override;

  pci::Address pci_{};
  volatile uint8_t* regs_ = nullptr;
  uint32_t dstrd_ = 0;
  uint32_t timeout_ms_ = 500;
  char serial_[IDC_SN_LEN + 1] = {};
  uint32_t nsid_ = 0;
  uint32_t lba_shift_ = 9;
  bool vwc_ = false;
  size_t max_bytes_ = MAX_COMMAND_BYTES;

  // Admin queues: used at boot only, polled.
  SubmissionQueue asq_;
  CompletionQueue acq_;
  uint16_t admin_cid_ = 0;

  // The I/O queue pair (qid 1) and its command slots.
  SpinLock lock_;  // taken with interrupts off: the handler takes it too
  SubmissionQueue sq_ GUARDED_BY(lock_);
  CompletionQueue cq_ GUARDED_BY(lock_);
  Slot slots_[MAX_SLOTS];
  uint32_t free_mask_ GUARDED_BY(lock_) = 0;  // bit i: slot i is free
  uint16_t nslots_ = 0;
  bool io_ready_ GUARDED_BY(lock_) = false;
  Semaphore room_{0};  // free slots
  Mutex rmw_mu_;       // read-modify-writes of partial blocks, one at a time
};

Result<void> Controller::wait_ready(bool ready) {
  const uint64_t deadline = uptime_ns() + uint64_t(timeout_ms_) * 1'000'000;
  for (;;) {
    uint32_t csts = r32(REG_CSTS);
    if (csts == 0xffffffffu) return Error::Io;  // the device is gone
    if (ready && (csts & CSTS_CFS)) return Error::Io;  // controller fatal status
    if (bool(csts & CSTS_RDY) == ready) return {};
    if (uptime_ns() > deadline) return Error::TimedOut;
    asm volatile("pause");
  }
}

Result<void> Controller::disable() {
  uint32_t cc = r32(REG_CC);
  // Clearing EN while the controller is still becoming ready is undefined
  // [§3.1.5]: let it finish first (bounded, and a failure here is ignored:
  // the reset below decides).
  if ((cc & CC_EN) && !(r32(REG_CSTS) & CSTS_RDY)) (void)wait_ready(true);
  if (cc & CC_EN) w32(REG_CC, cc & ~CC_EN);
  // RDY follows EN; a controller left enabled by firmware (SeaBIOS drives
  // NVMe too) is reset here [§3.1.5 CC.EN, §7.3.2].
  return wait_ready(false);
}

Result<void> Controller::admin(Sqe& e, uint32_t* dw0) {
  e.cid = admin_cid_++;
  asq_.push(e);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);  // the entry before the doorbell
  w32(sq_tail_doorbell(0, dstrd_), asq_.tail());
  const uint64_t deadline = uptime_ns() + ADMIN_TIMEOUT_NS;
  Cqe c;
  for (;;) {
    if (acq_.pop(&c)) {
      w32(cq_head_doorbell(0, dstrd_), acq_.head());
      if (c.cid != e.cid) continue;  // not ours (cannot happen: one at a time)
      break;
    }
    if (uptime_ns() > deadline) return Error::TimedOut;
    asm volatile("pause");
  }
  if (dw0) *dw0 = c.dw0;
  if (!status_ok(c.status)) {
    log_debug("{}: admin opcode {:#x}: status type {} code {:#x}", name_, e.opcode, status_sct(c.status),
              status_sc(c.status));
    return Error::Io;
  }
  return {};
}

Result<void> Controller::identify(uint32_t cns, uint32_t nsid, uint64_t page_phys) {
  Sqe e{};
  e.opcode = ADMIN_IDENTIFY;
  e.nsid = nsid;
  e.prp1 = page_phys;
  e.cdw10 = cns;
  return admin(e);
}

Result<void> Controller::enable_admin() {
  // One page each for the admin rings (32 entries: 2 KiB and 512 bytes).
  uint64_t sq_page = TRY(page_alloc(0));
  uint64_t cq_page = TRY(page_alloc(0));
  __builtin_memset(phys_to_virt(sq_page), 0, PAGE_SIZE);
  __builtin_memset(phys_to_virt(cq_page), 0, PAGE_SIZE);
  asq_.init(static_cast<Sqe*>(phys_to_virt(sq_page)), ADMIN_ENTRIES);
  acq_.init(static_cast<volatile Cqe*>(phys_to_virt(cq_page)), ADMIN_ENTRIES);
  w32(REG_AQA, uint32_t(ADMIN_ENTRIES - 1) << 16 | (ADMIN_ENTRIES - 1));
  w64(REG_ASQ, sq_page);
  w64(REG_ACQ, cq_page);
  w32(REG_CC, CC_IOSQES_64 | CC_IOCQES_16 | CC_EN);  // NVM command set, 4 KiB pages, round robin
  return wait_ready(true);
}

Result<void> Controller::setup_io_queues(unsigned vector_entry) {
  uint64_t cap = uint64_t(r32(REG_CAP + 4)) << 32 | r32(REG_CAP);
  uint32_t entries = cap_mqes(cap);
  if (entries > IO_ENTRIES) entries = IO_ENTRIES;
  if (entries < 2) return Error::NotSupported;
  // Number of Queues: one submission and one completion queue (0-based).
  {
    Sqe e{};
    e.opcode = ADMIN_SET_FEATURES;
    e.cdw10 = FEATURE_NUM_QUEUES;
    e.cdw11 = 0;
    if (auto r = admin(e); !r.ok()) log_debug("{}: Set Features (queues) refused; going on", name_);
  }
  uint64_t sq_page = TRY(page_alloc(0));  // 64 entries x 64 bytes: one page
  uint64_t cq_page = TRY(page_alloc(0));
  __builtin_memset(phys_to_virt(sq_page), 0, PAGE_SIZE);
  __builtin_memset(phys_to_virt(cq_page), 0, PAGE_SIZE);
  {
    IrqGuard irq;
    SpinGuard g(lock_);
    sq_.init(static_cast<Sqe*>(phys_to_virt(sq_page)), uint16_t(entries));
    cq_.init(static_cast<volatile Cqe*>(phys_to_virt(cq_page)), uint16_t(entries));
  }
  Sqe cq{};
  cq.opcode = ADMIN_CREATE_CQ;
  cq.prp1 = cq_page;
  cq.cdw10 = (entries - 1) << 16 | 1;      // QSIZE (0-based), QID 1
  cq.cdw11 = vector_entry << 16 | 1 << 1 | 1;  // IV, interrupts enabled, physically contiguous
  TRY(admin(cq));
  Sqe sq{};
  sq.opcode = ADMIN_CREATE_SQ;
  sq.prp1 = sq_page;
  sq.cdw10 = (entries - 1) << 16 | 1;
  sq.cdw11 = 1u << 16 | 1;                 // CQID 1, physically contiguous
  TRY(admin(sq));
  // Slots: fewer than the ring's entries, so the rings never overflow.
  nslots_ = uint16_t(entries - 1 < MAX_SLOTS ? entries - 1 : MAX_SLOTS);
  for (uint16_t i = 0; i < nslots_; ++i) {
    uint64_t p = TRY(page_alloc(0));
    slots_[i].prp_list = static_cast<uint64_t*>(phys_to_virt(p));
    slots_[i].prp_list_phys = p;
  }
  {
    IrqGuard irq;
    SpinGuard g(lock_);
    free_mask_ = nslots_ == 32 ? 0xffffffffu : (1u << nslots_) - 1;
    io_ready_ = true;
  }
  for (uint16_t i = 0; i < nslots_; ++i) room_.up();
  return {};
}

void Controller::complete() {
  SpinGuard g(lock_);  // interrupt context: interrupts are off already
  Cqe c;
  bool any = false;
  if (!io_ready_) return;  // the I/O queues are not there (yet)
  // Bounded: at most a ring's worth of entries per interrupt.
  for (uint16_t n = 0; n < IO_ENTRIES && cq_.pop(&c); ++n) {
    any = true;
    if (c.cid >= nslots_ || !slots_[c.cid].busy) {
      log_warn("{}: completion for command {} that is not outstanding; ignored", name_, c.cid);
      continue;
    }
    Slot& s = slots_[c.cid];
    s.status = c.status;
    s.busy = false;
    s.done.up();
  }
  if (any) w32(cq_head_doorbell(1, dstrd_), cq_.head());
}

Result<void> Controller::submit(uint8_t op, uint64_t lba, uint32_t blocks, uint8_t* buf, size_t len,
                                const uint32_t* cdw) {
  room_.down();  // sleeps while every slot is taken
  uint16_t id;
  {
    IrqGuard irq;
    SpinGuard g(lock_);
    id = uint16_t(__builtin_ctz(free_mask_));  // room_ says one is free
    free_mask_ &= ~(1u << id);
  }
  Slot& s = slots_[id];
  Sqe e{};
  e.opcode = op;
  e.cid = id;
  e.nsid = nsid_;
  if (len) {
    auto p = prp_build(reinterpret_cast<uintptr_t>(buf), len, phys_of, s.prp_list, PRP_LIST_CAP, s.prp_list_phys);
    if (!p.ok()) {  // cannot happen: transfer() bounds and aligns every command
      IrqGuard irq;
      SpinGuard g(lock_);
      free_mask_ |= 1u << id;
      room_.up();
      return p.error();
    }
    e.prp1 = p.value().prp1;
    e.prp2 = p.value().prp2;
    e.cdw10 = uint32_t(lba);
    e.cdw11 = uint32_t(lba >> 32);
    e.cdw12 = blocks - 1;  // NLB, 0-based
  }
  if (cdw) {
    e.cdw10 = cdw[0];
    e.cdw11 = cdw[1];
    e.cdw12 = cdw[2];
  }
  trace::point<trace::Event::BlockSubmit>(lba << (lba_shift_ - 9), len, trace_op(op), uintptr_t(id));
  {
    IrqGuard irq;
    SpinGuard g(lock_);
    s.busy = true;
    sq_.push(e);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // the entry (and PRP list) before the doorbell
    w32(sq_tail_doorbell(1, dstrd_), sq_.tail());
  }
  s.done.down();  // woken by complete()
  uint16_t status = s.status;
  {
    IrqGuard irq;
    SpinGuard g(lock_);
    free_mask_ |= 1u << id;
  }
  room_.up();
  trace::point<trace::Event::BlockComplete>(lba << (lba_shift_ - 9), len, trace_op(op), uint32_t(status >> 1));
  if (status_ok(status)) return {};
  log_warn("{}: {} of {} blocks at {}: status type {} code {:#x}", name_, op_name(op), blocks, lba,
           status_sct(status), status_sc(status));
  return Error::Io;  // any status the controller reports: the caller sees EIO
}

Result<void> Controller::transfer(bool write, uint64_t sector, uint8_t* buf, size_t count) {
  const uint8_t op = write ? IO_WRITE : IO_READ;
  const unsigned shift = lba_shift_ - 9;
  const uint64_t per_block = uint64_t(1) << shift;
  if (!((sector | count) & (per_block - 1))) return transfer_blocks(op, sector >> shift, buf, count >> shift);
  // Logical blocks larger than a sector, and a request that starts or ends
  // inside one: the partial blocks go through a bounce page (a write reads
  // the block, patches it and writes it back), whole blocks go direct.
  if (const uint64_t off = sector & (per_block - 1); off) {
    const size_t n = count < per_block - off ? count : size_t(per_block - off);
    TRY(partial_block(op, sector >> shift, size_t(off), n, buf));
    sector += n;
    buf += n * block::SECTOR_SIZE;
    count -= n;
  }
  if (const size_t whole = count & ~size_t(per_block - 1); whole) {
    TRY(transfer_blocks(op, sector >> shift, buf, whole >> shift));
    sector += whole;
    buf += whole * block::SECTOR_SIZE;
    count -= whole;
  }
  if (count) TRY(partial_block(op, sector >> shift, 0, count, buf));
  return {};
}

Result<void> Controller::partial_block(uint8_t op, uint64_t lba, size_t first, size_t n, uint8_t* buf) {
  const size_t block_bytes = size_t(1) << lba_shift_;  // at most a page (start() checks)
  uint64_t page_phys = TRY(page_alloc(0));
  auto* page = static_cast<uint8_t*>(phys_to_virt(page_phys));
  Result<void> r;
  if (op == IO_READ) {
    r = submit(IO_READ, lba, 1, page, block_bytes);
    if (r.ok()) __builtin_memcpy(buf, page + first * block::SECTOR_SIZE, n * block::SECTOR_SIZE);
  } else {
    // One read-modify-write at a time: two writers patching different
    // sectors of the same block must not undo each other.
    MutexGuard g(rmw_mu_);
    r = submit(IO_READ, lba, 1, page, block_bytes);
    if (r.ok()) {
      __builtin_memcpy(page + first * block::SECTOR_SIZE, buf, n * block::SECTOR_SIZE);
      r = submit(IO_WRITE, lba, 1, page, block_bytes);
    }
  }
  page_free(page_phys, 0);
  return r;
}

Result<void> Controller::transfer_blocks(uint8_t op, uint64_t lba, uint8_t* buf, uint64_t blocks) {
  const size_t block_bytes = size_t(1) << lba_shift_;
  const size_t max_blocks = max_bytes_ >> lba_shift_;
  // PRP entries must be dword aligned: an unaligned buffer goes through a
  // bounce page, a page at a time.
  const bool bounce = reinterpret_cast<uintptr_t>(buf) & 3;
  uint8_t* page = nullptr;
  uint64_t page_phys = 0;
  if (bounce) {
    page_phys = TRY(page_alloc(0));
    page = static_cast<uint8_t*>(phys_to_virt(page_phys));
  }
  Result<void> r;
  while (blocks && r.ok()) {
    size_t n = blocks < max_blocks ? size_t(blocks) : max_blocks;
    if (bounce) {
      n = PAGE_SIZE / block_bytes;
      if (n > blocks) n = size_t(blocks);
    }
    const size_t len = n * block_bytes;
    if (bounce) {
      if (op == IO_WRITE) __builtin_memcpy(page, buf, len);
      r = submit(op, lba, uint32_t(n), page, len);
      if (r.ok() && op == IO_READ) __builtin_memcpy(buf, page, len);
    } else {
      r = submit(op, lba, uint32_t(n), buf, len);
    }
    lba += n;
    buf += len;
    blocks -= n;
  }
  if (page) page_free(page_phys, 0);
  return r;
}

Result<void> Controller::trim(Trim op, uint64_t sector, uint32_t count) {
  const unsigned shift = lba_shift_ - 9;
  const uint64_t per_block = uint64_t(1) << shift;
  if (op == Trim::Discard) {
    // Advisory: only the whole logical blocks inside the range.
    const uint64_t first = (sector + per_block - 1) >> shift, end = (sector + count) >> shift;
    if (end <= first) return {};
    auto* range = static_cast<DsmRange*>(kmalloc(sizeof(DsmRange)));  // 16-byte aligned, the direct map
    if (!range) return Error::NoMemory;
    *range = DsmRange{0, uint32_t(end - first), first};
    const uint32_t cdw[3] = {0, DSM_DEALLOCATE, 0};  // one range
    Result<void> r = submit(IO_DSM, first, uint32_t(end - first), reinterpret_cast<uint8_t*>(range),
                            sizeof(DsmRange), cdw);
    kfree(range);
    return r;
  }
  // Write Zeroes: partial logical blocks at either end written as zeros
  // through the read-modify-write path; whole blocks by the command.
  uint8_t* zeros = nullptr;
  if ((sector | count) & (per_block - 1)) {
    zeros = static_cast<uint8_t*>(kzalloc(PAGE_SIZE));
    if (!zeros) return Error::NoMemory;
  }
  Result<void> r;
  uint64_t end = sector + count;
  if (const uint64_t off = sector & (per_block - 1); off) {
    const uint64_t n = end - sector < per_block - off ? end - sector : per_block - off;
    r = partial_block(IO_WRITE, sector >> shift, size_t(off), size_t(n), zeros);
    sector += n;
  }
  const uint64_t whole_end = end & ~(per_block - 1);
  while (r.ok() && sector < whole_end) {
    uint64_t blocks = (whole_end - sector) >> shift;
    if (blocks > WZ_MAX_BLOCKS) blocks = WZ_MAX_BLOCKS;
    const uint32_t cdw[3] = {uint32_t(sector >> shift), uint32_t(sector >> shift >> 32),
                             uint32_t(blocks - 1) | (op == Trim::ZeroesUnmap ? WZ_DEALLOCATE : 0)};
    r = submit(IO_WRITE_ZEROES, sector >> shift, uint32_t(blocks), nullptr, 0, cdw);
    sector += blocks << shift;
  }
  if (r.ok() && sector < end) r = partial_block(IO_WRITE, sector >> shift, 0, size_t(end - sector), zeros);
  kfree(zeros);
  return r;
}

Result<void> Controller::flush() {
  if (!vwc_) return {};  // no volatile write cache: a completed write is stable [§6.8]
  return submit(IO_FLUSH, 0, 0, nullptr, 0);
}

Result<void> Controller::identity(char* buf, size_t cap) {
  if (!cap) return Error::Range;
  size_t n = 0;
  while (serial_[n] && n + 1 < cap) {
    buf[n] = serial_[n];
    ++n;
  }
  buf[n] = 0;
  return {};
}

Result<void> Controller::start(pci::Address a, unsigned index) {
  pci_ = a;
  format_to(name_, sizeof name_, "nvme{}n1", index);
  uint64_t bar = pci::bar_address(a, 0);
  if (!bar) {
    log_warn("nvme{}: BAR0 is not a memory BAR; no device", index);
    return Error::NotFound;
  }
  pci::write16(a, pci::COMMAND,
               uint16_t(pci::read16(a, pci::COMMAND) | pci::COMMAND_MEMORY | pci::COMMAND_BUS_MASTER |
                        pci::COMMAND_INTX_DISABLE));
  // Registers and the doorbells of queues 0 and 1 (stride up to 4 << 15).
  regs_ = static_cast<volatile uint8_t*>(TRY(mmio_map(bar, REG_DOORBELLS + 0x1000)));
  uint64_t cap = uint64_t(r32(REG_CAP + 4)) << 32 | r32(REG_CAP);
  dstrd_ = cap_dstrd(cap);
  if (cq_head_doorbell(1, dstrd_) + 4 > 0x2000) {
    regs_ = static_cast<volatile uint8_t*>(TRY(mmio_map(bar, cq_head_doorbell(1, dstrd_) + 4)));
  }
  timeout_ms_ = cap_timeout_ms(cap) ? cap_timeout_ms(cap) : 500;
  if (!cap_css_nvm(cap) || cap_mpsmin(cap) != 0) {
    log_warn("nvme{}: no NVM command set or no 4 KiB pages (CAP {:#x}); no device", index, cap);
    return Error::NotSupported;
  }
  uint32_t vs = r32(REG_VS);
  if (auto r = disable(); !r.ok()) {
    log_warn("nvme{}: the controller does not stop (CSTS {:#x}) within {} ms; no device", index, r32(REG_CSTS),
             timeout_ms_);
    return r.error();
  }
  if (auto r = enable_admin(); !r.ok()) {
    log_warn("nvme{}: the controller does not become ready (CSTS {:#x}) within {} ms; no device", index,
             r32(REG_CSTS), timeout_ms_);
    return r.error();
  }
  // MSI-X: the I/O completion queue on table entry 1 (entry 0 stays masked:
  // the admin queue is polled), or 0 when the table has a single entry.
  unsigned entries = pci::msix_table_size(a);
  if (!entries) {
    log_warn("nvme{}: no MSI-X (INTx is not wired); no device", index);
    return Error::NotSupported;
  }
  const unsigned entry = entries > 1 ? 1 : 0;
  uint8_t vector = TRY(irq_vector_alloc());
  if (auto r = irq_register(vector, on_irq, this); !r.ok()) {
    irq_vector_free(vector);
    return r.error();
  }
  TRY(pci::msix_route(a, entry, vector));

  uint64_t id_phys = TRY(page_alloc(0));
  auto* id = static_cast<const uint8_t*>(phys_to_virt(id_phys));
  auto fail = [&](const char* what, Error e) -> Result<void> {
    log_warn("nvme{}: {}; no device", index, what);
    page_free(id_phys, 0);
    w32(REG_CC, 0);  // disabled: it does no DMA
    return e;
  };
  if (!identify(CNS_CONTROLLER, 0, id_phys).ok()) return fail("Identify Controller failed", Error::Io);
  size_t n = IDC_SN_LEN;
  while (n && (id[IDC_SN + n - 1] == ' ' || id[IDC_SN + n - 1] == 0)) --n;  // space padded
  for (size_t i = 0; i < n; ++i) serial_[i] = char(id[IDC_SN + i]);
  serial_[n] = 0;
  const uint8_t mdts = id[IDC_MDTS];
  if (mdts && mdts < 20) {
    size_t limit = NVME_PAGE << mdts;  // units of CAP.MPSMIN, 4 KiB here
    if (limit < max_bytes_) max_bytes_ = limit;
  }
  vwc_ = id[IDC_VWC] & 1;
  const uint16_t oncs = uint16_t(id[IDC_ONCS] | id[IDC_ONCS + 1] << 8);
  if ((id[IDC_SQES] & 0xf) > 6 || (id[IDC_CQES] & 0xf) > 4)
    return fail("the controller needs larger queue entries than 64/16 bytes", Error::NotSupported);
  // The first active namespace.
  __builtin_memset(phys_to_virt(id_phys), 0, PAGE_SIZE);
  if (identify(CNS_ACTIVE_NSIDS, 0, id_phys).ok()) {
    nsid_ = *reinterpret_cast<const uint32_t*>(id);
  } else {
    nsid_ = 1;  // controllers before 1.1 have no list: the first namespace is 1
  }
  if (!nsid_) return fail("no active namespace", Error::NotFound);
  format_to(name_, sizeof name_, "nvme{}n{}", index, nsid_);
  if (!identify(CNS_NAMESPACE, nsid_, id_phys).ok()) return fail("Identify Namespace failed", Error::Io);
  const uint64_t nsze = *reinterpret_cast<const uint64_t*>(id + IDN_NSZE);
  const uint8_t format = id[IDN_FLBAS] & 0xf;
  if (format > id[IDN_NLBAF]) return fail("the namespace's LBA format is out of range", Error::BadFormat);
  const uint32_t lbaf = *reinterpret_cast<const uint32_t*>(id + IDN_LBAF + 4 * format);
  const uint32_t lbads = (lbaf >> 16) & 0xff, metadata = lbaf & 0xffff;
  if (lbads < 9 || lbads > 12 || metadata)
    return fail("the namespace's LBA format (data 2^lbads, metadata) is not 512..4096 bytes without metadata",
                Error::NotSupported);
  lba_shift_ = lbads;
  block_size_ = 1u << lbads;
  if (nsze > (~0ull >> (lbads - 9))) return fail("the namespace is too large", Error::Range);
  sectors_ = nsze << (lbads - 9);
  read_only_ = id[IDN_NSATTR] & 1;
  max_bytes_ &= ~(size_t(block_size_) - 1);
  if (max_bytes_ < block_size_) max_bytes_ = block_size_;
  page_free(id_phys, 0);
  // Deallocate and Write Zeroes where ONCS says so [§5.15.2.2]: a DSM
  // range counts 32 bits of blocks, Write Zeroes 16.
  const uint32_t per_block = 1u << (lbads - 9);
  if (oncs & (1u << 2)) {
    discard_.max_sectors = 0x80000000u;  // 2^31 sectors: within a range's 32-bit count at any block size
    discard_.alignment = per_block;
  }
  if (oncs & (1u << 3)) {
    zeroes_.max_sectors = WZ_MAX_BLOCKS * per_block;
    zeroes_.alignment = per_block;
  }

  if (auto r = setup_io_queues(entry); !r.ok()) {
    log_warn("nvme{}: cannot create the I/O queues ({}); no device", index, error_name(r.error()));
    w32(REG_CC, 0);
    return r.error();
  }
  log_info("{}: NVMe {}.{} '{}', {} sectors ({} MiB), block {}, {} slots, {} KiB per command{}{}{}{}", name_,
           vs >> 16, (vs >> 8) & 0xff, StringView(serial_), sectors_, sectors_ >> 11, block_size_, nslots_,
           max_bytes_ >> 10, read_only_ ? ", read-only" : "", vwc_ ? ", write cache (flush)" : "",
           can_discard() ? ", discard" : "", can_write_zeroes() ? ", write-zeroes" : "");
  return {};
}

struct ProbeCtx {
  unsigned count = 0;
};

void probe_fn(pci::Address a, uint16_t, uint16_t, void* vctx) {
  if (pci::read8(a, pci::CLASS) != CLASS_STORAGE || pci::read8(a, pci::SUBCLASS) != SUBCLASS_NVM ||
      pci::read8(a, pci::PROG_IF) != PROG_IF_NVME)
    return;
  auto* ctx = static_cast<ProbeCtx*>(vctx);
  auto* c = new (std::nothrow) Controller;
  if (!c) return;
  if (!c->start(a, ctx->count).ok()) return;  // logged; the object stays (its vector may be registered)
  ++ctx->count;
  block::register_device(c);
}

}  // namespace

void nvme_init() {
  ProbeCtx ctx;
  pci::for_each_function(probe_fn, &ctx);
}

}  // namespace capsule::nvme
