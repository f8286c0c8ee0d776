// virtio-pci modern transport [virtio 1.2 §4.1.4]: the device's structures
// (common configuration, notifications, ISR, device configuration) sit in
// memory BARs that vendor capabilities point at. Interrupts use MSI-X
// [PCI 3.0 §6.8.2] with one table entry for the whole device: its address
// targets the boot CPU's LAPIC, its data is a vector from the IRQ layer.
// A driver may give a queue an entry of its own (setup_queue_irq: virtio-
// net's queue pairs) while the table has one left.
#include "drivers/virtio/pci.h"

#include <new>

#include "arch/apic.h"
#include "lib/log.h"
#include "core/mm.h"
#include "drivers/pci/pci.h"

namespace capsule::virtio {
namespace {

constexpr uint16_t VIRTIO_VENDOR = 0x1af4;
enum : uint8_t { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4 };
// struct virtio_pci_common_cfg [§4.1.4.3]
enum : size_t {
  DeviceFeatureSelect = 0, DeviceFeature = 4, DriverFeatureSelect = 8, DriverFeature = 12,
  MsixConfig = 16, NumQueues = 18, DeviceStatus = 20, QueueSelect = 22, QueueSize = 24,
  QueueMsixVector = 26, QueueEnable = 28, QueueNotifyOff = 30, QueueDesc = 32, QueueDriver = 40,
  QueueDevice = 48,
};
constexpr uint16_t NO_VECTOR = 0xffff;

class PciTransport final : public Transport {
 public:
  pci::Address addr;
  volatile uint8_t* common = nullptr;
  volatile uint8_t* notify_base = nullptr;
  uint32_t notify_mult = 0;
  volatile uint8_t* device = nullptr;
  uint8_t msix_cap = 0;
  uint32_t type = 0;
  bool msix = false;
  IrqHandler handler = nullptr;
  void* context = nullptr;
  volatile uint32_t* table = nullptr;  // the MSI-X table, table_size entries
  uint16_t table_size = 0;
  uint16_t next_entry = 1;  // entry 0 is the device's (setup_irq)
  static constexpr uint16_t MAX_QUEUE_ENTRIES = 32;
  uint16_t queue_entry[MAX_QUEUE_ENTRIES] = {};  // per queue, 0: the device's

  const char* kind() const override { return "pci"; }
  uint32_t device_id() override { return type; }
  uint64_t device_features() override {
    w32(DeviceFeatureSelect, 0);
    uint64_t lo = r32(DeviceFeature);
    w32(DeviceFeatureSelect, 1);
    return lo | uint64_t(r32(DeviceFeature)) << 32;
  }
  void set_driver_features(uint64_t f) override {
    w32(DriverFeatureSelect, 0);
    w32(DriverFeature, uint32_t(f));
    w32(DriverFeatureSelect, 1);
    w32(DriverFeature, uint32_t(f >> 32));
  }
  uint8_t status() override { return common[DeviceStatus]; }
  void set_status(uint8_t s) override {
    common[DeviceStatus] = s;
    if (s == 0)  // §4.1.4.3.2: reset completes when status reads back 0
      while (common[DeviceStatus] != 0) asm volatile("pause");
  }
  uint8_t config8(size_t off) override { return device ? device[off] : 0; }
  uint16_t config16(size_t off) override {
    return device ? *reinterpret_cast<volatile uint16_t*>(device + off) : 0;
  }
  uint32_t config32(size_t off) override {
    return device ? *reinterpret_cast<volatile uint32_t*>(device + off) : 0;
  }
  uint16_t queue_max(uint16_t q) override {
    if (q >= r16(NumQueues)) return 0;
    w16(QueueSelect, q);
    if (r16(QueueEnable)) return 0;
    return r16(QueueSize);
  }
  Result<void> queue_setup(uint16_t q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used) override {
    if (q >= r16(NumQueues)) return Error::Invalid;
    w16(QueueSelect, q);
    if (!size || size > r16(QueueSize)) return Error::Invalid;
    w16(QueueSize, size);
    w64(QueueDesc, desc);
    w64(QueueDriver, avail);
    w64(QueueDevice, used);
    if (msix) {
      w16(QueueMsixVector, q < MAX_QUEUE_ENTRIES ? queue_entry[q] : 0);
      if (r16(QueueMsixVector) == NO_VECTOR) return Error::NoSpace;
    }
    w16(QueueEnable, 1);
    return {};
  }
  void notify(uint16_t q) override {
    w16(QueueSelect, q);
    size_t off = size_t(r16(QueueNotifyOff)) * notify_mult;
    *reinterpret_cast<volatile uint16_t*>(notify_base + off) = q;
  }

  Result<void> setup_irq(IrqHandler h, void* ctx) override {
    if (!msix_cap) return Error::NotSupported;  // INTx: not wired (q35 devices all have MSI-X)
    handler = h;
    context = ctx;
    uint32_t table = pci::read32(addr, uint8_t(msix_cap + 4));
    uint64_t bar = pci::bar_address(addr, table & 7);
    if (!bar) return Error::NotFound;
    uint16_t size = uint16_t((pci::read16(addr, uint8_t(msix_cap + 2)) & 0x7ff) + 1);  // [§6.8.2.3]
    auto m = TRY(mmio_map(bar + (table & ~7u), size_t(size) * 16));
    this->table = static_cast<volatile uint32_t*>(m);
    table_size = size;
    uint8_t v = TRY(irq_vector_alloc());
    if (auto r = irq_register(v, on_irq, this); !r.ok()) {
      irq_vector_free(v);
      return r.error();
    }
    program_entry(0, v);
    uint16_t ctl = pci::read16(addr, uint8_t(msix_cap + 2));
    ctl = uint16_t((ctl | 0x8000) & ~0x4000);  // enable, function not masked
    pci::write16(addr, uint8_t(msix_cap + 2), ctl);
    msix = true;
    w16(MsixConfig, 0);
    return {};
  }

  Result<void> setup_queue_irq(uint16_t q, IrqHandler h, void* ctx) override {
    if (!msix || q >= MAX_QUEUE_ENTRIES || next_entry >= table_size) return Error::NotSupported;
    uint8_t v = TRY(irq_vector_alloc());
    if (auto r = irq_register(v, h, ctx); !r.ok()) {
      irq_vector_free(v);
      return r.error();
    }
    program_entry(next_entry, v);
    queue_entry[q] = next_entry++;
    return {};
  }

 private:
  // MSI-X table entry i: to the boot CPU's LAPIC, vector v.
  void program_entry(uint16_t i, uint8_t v) {
    volatile uint32_t* entry = table + size_t(i) * 4;
    entry[0] = 0xfee00000u | (lapic_id() << 12);  // fixed delivery, physical destination
    entry[1] = 0;
    entry[2] = v;  // edge-triggered, fixed
    entry[3] = 0;  // unmasked
  }
  static void on_irq(void* ctx) {
    auto* self = static_cast<PciTransport*>(ctx);
    if (self->handler) self->handler(self->context);
  }
  uint16_t r16(size_t o) { return *reinterpret_cast<volatile uint16_t*>(common + o); }
  uint32_t r32(size_t o) { return *reinterpret_cast<volatile uint32_t*>(common + o); }
  void w16(size_t o, uint16_t v) { *reinterpret_cast<volatile uint16_t*>(common + o) = v; }
  void w32(size_t o, uint32_t v) { *reinterpret_cast<volatile uint32_t*>(common + o) = v; }
  void w64(size_t o, uint64_t v) {
    w32(o, uint32_t(v));
    w32(o + 4, uint32_t(v >> 32));
  }
};

// Maps the region a virtio capability at `cap` describes.
volatile uint8_t* map_cap(pci::Address a, uint8_t cap) {
  uint8_t bar = pci::read8(a, uint8_t(cap + 4));
  uint32_t off = pci::read32(a, uint8_t(cap + 8));
  uint32_t len = pci::read32(a, uint8_t(cap + 12));
  uint64_t base = pci::bar_address(a, bar);
  if (!base || !len) return nullptr;
  auto m = mmio_map(base + off, len);
  return m.ok() ? static_cast<volatile uint8_t*>(m.value()) : nullptr;
}

struct ProbeCtx {
  void (*attach)(Transport&);
};

void probe_fn(pci::Address a, uint16_t vendor, uint16_t device, void* vctx) {
  if (vendor != VIRTIO_VENDOR || device < 0x1000 || device > 0x107f) return;
  auto* ctx = static_cast<ProbeCtx*>(vctx);
  auto* t = new (std::nothrow) PciTransport;
  if (!t) return;
  t->addr = a;
  // §4.1.2.1: 0x1040 + type for modern devices; transitional ones carry the
  // type in the subsystem device ID.
  t->type = device >= 0x1040 ? device - 0x1040u : pci::read16(a, pci::SUBSYSTEM_ID);
  pci::write16(a, pci::COMMAND,
               uint16_t(pci::read16(a, pci::COMMAND) | pci::COMMAND_MEMORY | pci::COMMAND_BUS_MASTER));
  if (pci::read16(a, pci::STATUS) & pci::STATUS_CAP_LIST) {
    uint8_t cap = pci::read8(a, pci::CAP_PTR) & 0xfc;
    for (int guard = 0; cap && guard < 48; ++guard) {
      uint8_t id = pci::read8(a, cap);
      if (id == pci::CAP_MSIX) t->msix_cap = cap;
      if (id == pci::CAP_VENDOR) {
        uint8_t type = pci::read8(a, uint8_t(cap + 3));
        if (type == CAP_COMMON && !t->common) t->common = map_cap(a, cap);
        if (type == CAP_DEVICE && !t->device) t->device = map_cap(a, cap);
        if (type == CAP_NOTIFY && !t->notify_base) {
          t->notify_base = map_cap(a, cap);
          t->notify_mult = pci::read32(a, uint8_t(cap + 16));
        }
      }
      cap = pci::read8(a, uint8_t(cap + 1)) & 0xfc;
    }
  }
  if (!t->common || !t->notify_base) {
    log_warn("virtio-pci: {:02x}:{:02x}.{}: no modern interface; skipped", a.bus, a.dev, a.fn);
    delete t;
    return;
  }
  log_debug("virtio-pci: {:02x}:{:02x}.{}: device type {}", a.bus, a.dev, a.fn, t->type);
  ctx->attach(*t);
}

}  // namespace

void pci_probe_all(void (*attach)(Transport&)) {
  ProbeCtx ctx{attach};
  pci::for_each_function(probe_fn, &ctx);
}

}  // namespace capsule::virtio
