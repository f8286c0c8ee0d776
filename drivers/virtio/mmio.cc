// virtio-mmio transport [virtio 1.2 §4.2.2], modern register layout only
// (QEMU: -global virtio-mmio.force-legacy=false).
//
// Where the devices are: QEMU's microvm puts its transports at
// 0xfeb00000 + 0x200 * i and fills them from the top slot down. With ACPI
// (the default) there are 24 slots, described only in the DSDT, on GSI
// 24 + i (the second IOAPIC); with acpi=off there are 8, on GSI 5 + i
// (and listed on the command line). Counting the slots that answer with
// the magic value tells the two apart without parsing AML.
#include "drivers/virtio/mmio.h"

#include <new>

#include "arch/apic.h"
#include "lib/log.h"
#include "core/mm.h"

namespace capsule::virtio {
namespace {

constexpr uint64_t SLOT_BASE = 0xfeb00000;
constexpr size_t SLOT_SIZE = 0x200;
constexpr size_t MAX_SLOTS = 24;
constexpr uint32_t MAGIC = 0x74726976;  // "virt"

enum : size_t {
  MagicValue = 0x000, Version = 0x004, DeviceID = 0x008, DeviceFeatures = 0x010,
  DeviceFeaturesSel = 0x014, DriverFeatures = 0x020, DriverFeaturesSel = 0x024,
  QueueSel = 0x030, QueueNumMax = 0x034, QueueNum = 0x038, QueueReady = 0x044,
  QueueNotify = 0x050, InterruptStatus = 0x060, InterruptACK = 0x064, Status = 0x070,
  QueueDescLow = 0x080, QueueDescHigh = 0x084, QueueDriverLow = 0x090, QueueDriverHigh = 0x094,
  QueueDeviceLow = 0x0a0, QueueDeviceHigh = 0x0a4, Config = 0x100,
};

class MmioTransport final : public Transport {
 public:
  MmioTransport(volatile uint8_t* regs, uint32_t gsi) : regs_(regs), gsi_(gsi) {}

  const char* kind() const override { return "mmio"; }
  uint32_t device_id() override { return rd(DeviceID); }
  uint64_t device_features() override {
    wr(DeviceFeaturesSel, 0);
    uint64_t lo = rd(DeviceFeatures);
    wr(DeviceFeaturesSel, 1);
    return lo | uint64_t(rd(DeviceFeatures)) << 32;
  }
  void set_driver_features(uint64_t f) override {
    wr(DriverFeaturesSel, 0);
    wr(DriverFeatures, uint32_t(f));
    wr(DriverFeaturesSel, 1);
    wr(DriverFeatures, uint32_t(f >> 32));
  }
  uint8_t status() override { return uint8_t(rd(Status)); }
  void set_status(uint8_t s) override { wr(Status, s); }
  uint8_t config8(size_t off) override { return regs_[Config + off]; }
  uint16_t config16(size_t off) override { return *reinterpret_cast<volatile uint16_t*>(regs_ + Config + off); }
  uint32_t config32(size_t off) override { return rd(Config + off); }
  uint16_t queue_max(uint16_t q) override {
    wr(QueueSel, q);
    if (rd(QueueReady)) return 0;  // already in use
    return uint16_t(rd(QueueNumMax));
  }
  Result<void> queue_setup(uint16_t q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used) override {
    wr(QueueSel, q);
    if (!size || size > rd(QueueNumMax)) return Error::Invalid;
    wr(QueueNum, size);
    wr(QueueDescLow, uint32_t(desc));
    wr(QueueDescHigh, uint32_t(desc >> 32));
    wr(QueueDriverLow, uint32_t(avail));
    wr(QueueDriverHigh, uint32_t(avail >> 32));
    wr(QueueDeviceLow, uint32_t(used));
    wr(QueueDeviceHigh, uint32_t(used >> 32));
    wr(QueueReady, 1);
    return {};
  }
  void notify(uint16_t q) override { wr(QueueNotify, q); }

  Result<void> setup_irq(IrqHandler handler, void* context) override {
    handler_ = handler;
    context_ = context;
    uint8_t v = TRY(irq_vector_alloc());
    if (auto r = irq_register(v, on_irq, this); !r.ok()) {
      irq_vector_free(v);
      return r.error();
    }
    // QEMU's microvm DSDT describes these lines as level-triggered,
    // active high; the handler acknowledges before the EOI.
    return ioapic_route(gsi_, v, lapic_id(), true, false);
  }

 private:
  static void on_irq(void* ctx) {
    auto* self = static_cast<MmioTransport*>(ctx);
    uint32_t why = self->rd(InterruptStatus);
    self->wr(InterruptACK, why);  // §4.2.3.3: lowers the line
    if (why && self->handler_) self->handler_(self->context_);
  }
  uint32_t rd(size_t off) { return *reinterpret_cast<volatile uint32_t*>(regs_ + off); }
  void wr(size_t off, uint32_t v) { *reinterpret_cast<volatile uint32_t*>(regs_ + off) = v; }

  volatile uint8_t* regs_;
  uint32_t gsi_;
  IrqHandler handler_ = nullptr;
  void* context_ = nullptr;
};

}  // namespace

void mmio_probe_all(void (*attach)(Transport&)) {
  auto m = mmio_map(SLOT_BASE, SLOT_SIZE * MAX_SLOTS);
  if (!m.ok()) return;
  auto* base = static_cast<volatile uint8_t*>(m.value());
  auto reg = [&](size_t slot, size_t off) { return *reinterpret_cast<volatile uint32_t*>(base + slot * SLOT_SIZE + off); };
  size_t slots = 0;
  for (size_t i = 0; i < MAX_SLOTS; ++i)
    if (reg(i, MagicValue) == MAGIC) slots = i + 1;
  if (!slots) return;
  uint32_t gsi_base = slots > 8 ? 24 : 5;
  for (size_t i = 0; i < slots; ++i) {
    if (reg(i, MagicValue) != MAGIC || reg(i, DeviceID) == 0) continue;
    if (reg(i, Version) != 2) {
      log_warn("virtio-mmio: slot {} is a legacy transport (add -global virtio-mmio.force-legacy=false)", i);
      continue;
    }
    auto* t = new (std::nothrow) MmioTransport(base + i * SLOT_SIZE, gsi_base + uint32_t(i));
    if (!t) return;
    log_debug("virtio-mmio: slot {}: device type {}, GSI {}", i, t->device_id(), gsi_base + i);
    attach(*t);
  }
}

}  // namespace capsule::virtio
