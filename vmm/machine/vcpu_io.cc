#include "vmm/machine/vcpu_io.h"

#include <cstring>

#include "dvm/log.h"
#include "vmm/layout/layout.h"

namespace dvm::machine {

void VcpuIoRouter::Access(const bus::Bus* bus, uint64_t address, std::span<uint8_t> data, bool is_write,
                          std::atomic<uint64_t>& unclaimed, std::atomic<uint64_t>& last) {
  std::optional<bus::Bus::Hit> hit = bus->Lookup(address, data.size());
  if (!hit) {
    unclaimed.fetch_add(1, std::memory_order_relaxed);
    last.store(address, std::memory_order_relaxed);
    if (!is_write) std::memset(data.data(), 0xff, data.size());
    return;
  }
  if (is_write) {
    hit->device->Write(hit->offset, data);
    // A write may have armed or moved a device timer (PIT, RTC, ...).
    timers_->Poke();
  } else {
    hit->device->Read(hit->offset, data);
  }
}

void VcpuIoRouter::Pio(uint16_t port, std::span<uint8_t> data, bool is_write) {
  Access(pio_, port, data, is_write, counters_->unclaimed_pio, counters_->last_unclaimed_pio);
}

void VcpuIoRouter::Mmio(Gpa address, std::span<uint8_t> data, bool is_write) {
  const uint64_t lapic_base = layout::kLapic.value();
  if (address.value() >= lapic_base && address.value() - lapic_base < layout::kLapicSize) {
    uint64_t offset = address.value() - lapic_base;
    if (is_write) {
      lapic_->Write(offset, data);
      timers_->Poke();  // the LAPIC timer may have been armed
    } else {
      lapic_->Read(offset, data);
    }
    return;
  }
  Access(mmio_, address.value(), data, is_write, counters_->unclaimed_mmio, counters_->last_unclaimed_mmio);
}

}  // namespace dvm::machine
