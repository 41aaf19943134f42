#include "vmm/machine/vcpu_io.h"

#include <cstring>

#include <algorithm>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "dvm/log.h"
#include "vmm/layout/layout.h"

namespace dvm::machine {

std::string IoCounters::TopUnclaimedPorts(size_t count) const {
  std::vector<std::pair<uint32_t, uint32_t>> hits;  // (count, port)
  for (uint32_t port = 0; port < unclaimed_by_port.size(); ++port) {
    uint32_t n = unclaimed_by_port[port].load(std::memory_order_relaxed);
    if (n != 0) hits.emplace_back(n, port);
  }
  std::sort(hits.rbegin(), hits.rend());
  if (hits.size() > count) hits.resize(count);
  std::vector<std::string> parts;
  for (auto [n, port] : hits) parts.push_back(absl::StrFormat("%#x x %u", port, n));
  return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
}

void LocalDevices::Access(const bus::Bus* bus, uint64_t address, std::span<uint8_t> data, bool is_write,
                          std::atomic<uint64_t>& unclaimed) {
  std::optional<bus::Bus::Hit> hit = bus->Lookup(address, data.size());
  if (!hit) {
    unclaimed.fetch_add(1, std::memory_order_relaxed);
    if (bus == pio_) {
      counters_->unclaimed_by_port[address & 0xffff].fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_->last_unclaimed_mmio.store(address, std::memory_order_relaxed);
    }
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

void LocalDevices::Pio(uint16_t port, std::span<uint8_t> data, bool is_write) {
  Access(pio_, port, data, is_write, counters_->unclaimed_pio);
}

void LocalDevices::Mmio(Gpa address, std::span<uint8_t> data, bool is_write) {
  Access(mmio_, address.value(), data, is_write, counters_->unclaimed_mmio);
}

void ForwardedDevices::Forward(cluster::IoSpace space, uint64_t address, std::span<uint8_t> data,
                               bool is_write) {
  absl::Status s = forwarder_->Forward(vcpu_, space, address, data, is_write);
  if (!s.ok()) {
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "vCPU " << vcpu_.value() << ": " << s.message();
    if (!is_write) std::memset(data.data(), 0xff, data.size());
  }
}

void ForwardedDevices::Pio(uint16_t port, std::span<uint8_t> data, bool is_write) {
  Forward(cluster::IoSpace::kPio, port, data, is_write);
}

void ForwardedDevices::Mmio(Gpa address, std::span<uint8_t> data, bool is_write) {
  Forward(cluster::IoSpace::kMmio, address.value(), data, is_write);
}

void VcpuIoRouter::Pio(uint16_t port, std::span<uint8_t> data, bool is_write) {
  devices_->Pio(port, data, is_write);
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
  devices_->Mmio(address, data, is_write);
}

}  // namespace dvm::machine
