#include "vmm/irq/ioapic.h"

#include "dvm/log.h"

namespace dvm::irq {
namespace {

constexpr uint32_t kRegId = 0x00;
constexpr uint32_t kRegVersion = 0x01;
constexpr uint32_t kRegArbitration = 0x02;
constexpr uint32_t kRegRedirBase = 0x10;
// Bits the guest may write: vector, delivery mode, dest mode, polarity,
// trigger, mask, destination. Delivery status and remote IRR are read-only.
constexpr uint64_t kRedirWritable = 0xFF000000'0001AFFFull;

}  // namespace

Ioapic::Ioapic(uint8_t id, ApicMessageSink* sink) : sink_(sink) {
  MutexLock lock(&mu_);
  id_ = id;
  redir_.fill(kRedirMasked);
}

void Ioapic::Read(uint64_t offset, std::span<uint8_t> data) {
  uint32_t value = 0;
  {
    MutexLock lock(&mu_);
    if (offset == kRegSel) value = select_;
    else if (offset == kWindow) value = ReadIndirect(select_);
  }
  hw::FillAccess(data, value);
}

void Ioapic::Write(uint64_t offset, std::span<const uint8_t> data) {
  const uint32_t value = static_cast<uint32_t>(hw::AccessValue(data));
  std::vector<ApicMessage> out;
  {
    MutexLock lock(&mu_);
    if (offset == kRegSel) select_ = value & 0xFF;
    else if (offset == kWindow) WriteIndirect(select_, value, out);
    else if (offset == kEoi) EoiLocked(static_cast<uint8_t>(value), out);
  }
  SendAll(out);
}

uint32_t Ioapic::ReadIndirect(uint32_t index) const {
  switch (index) {
    case kRegId: return id_ << 24;
    case kRegVersion: return kIoapicVersion | ((kPins - 1) << 16);
    case kRegArbitration: return id_ << 24;
    default: break;
  }
  if (index >= kRegRedirBase && index < kRegRedirBase + 2 * kPins) {
    const uint64_t entry = redir_[(index - kRegRedirBase) / 2];
    return static_cast<uint32_t>((index & 1) ? entry >> 32 : entry);
  }
  return 0xFFFFFFFF;  // no register there
}

void Ioapic::WriteIndirect(uint32_t index, uint32_t value, std::vector<ApicMessage>& out) {
  if (index == kRegId) {
    id_ = value >> 24;
    return;
  }
  if (index < kRegRedirBase || index >= kRegRedirBase + 2 * kPins) return;
  const uint32_t pin = (index - kRegRedirBase) / 2;
  uint64_t& entry = redir_[pin];
  const uint64_t shift = (index & 1) ? 32 : 0;
  const uint64_t mask = uint64_t{0xFFFFFFFF} << shift;
  const uint64_t written = (entry & ~mask) | ((uint64_t{value} << shift) & mask);
  entry = (entry & ~kRedirWritable) | (written & kRedirWritable);
  if (!(entry & kRedirLevel)) entry &= ~kRedirRemoteIrr;
  // Unmasking a level pin that is still asserted delivers it now.
  if (entry & kRedirLevel) MaybeDeliverLocked(pin, out);
}

void Ioapic::SetPin(uint32_t pin, bool asserted) {
  std::vector<ApicMessage> out;
  {
    MutexLock lock(&mu_);
    if (pin >= kPins) {
      ++bad_pin_;
      DVM_LOG_EVERY_SEC(WARNING, 1.0) << "IOAPIC: no pin " << pin;
      return;
    }
    const bool rising = asserted && !level_[pin];
    level_[pin] = asserted;
    const bool level_triggered = redir_[pin] & kRedirLevel;
    if (level_triggered ? asserted : rising) MaybeDeliverLocked(pin, out);
  }
  SendAll(out);
}

void Ioapic::MaybeDeliverLocked(uint32_t pin, std::vector<ApicMessage>& out) {
  uint64_t& entry = redir_[pin];
  if (entry & kRedirMasked) return;  // edges that arrive masked are lost, as on hardware
  const bool level_triggered = entry & kRedirLevel;
  if (level_triggered) {
    if (!level_[pin] || (entry & kRedirRemoteIrr)) return;
    entry |= kRedirRemoteIrr;
  }
  ApicMessage m;
  m.vector = static_cast<uint8_t>(entry);
  m.mode = static_cast<DeliveryMode>((entry >> 8) & 7);
  m.dest_mode = static_cast<DestMode>((entry >> 11) & 1);
  m.trigger = level_triggered ? TriggerMode::kLevel : TriggerMode::kEdge;
  m.dest = static_cast<uint8_t>(entry >> 56);
  m.source_id = static_cast<uint8_t>(id_);
  out.push_back(m);
}

void Ioapic::EoiLocked(uint8_t vector, std::vector<ApicMessage>& out) {
  for (uint32_t pin = 0; pin < kPins; ++pin) {
    uint64_t& entry = redir_[pin];
    if (static_cast<uint8_t>(entry) != vector || !(entry & kRedirRemoteIrr)) continue;
    entry &= ~kRedirRemoteIrr;
    MaybeDeliverLocked(pin, out);  // still asserted: fires again
  }
}

void Ioapic::BroadcastEoi(uint8_t vector) {
  std::vector<ApicMessage> out;
  {
    MutexLock lock(&mu_);
    EoiLocked(vector, out);
  }
  SendAll(out);
}

void Ioapic::SendAll(const std::vector<ApicMessage>& out) {
  for (const auto& m : out) sink_->Send(m);
}

uint64_t Ioapic::redirection(uint32_t pin) const {
  MutexLock lock(&mu_);
  return pin < kPins ? redir_[pin] : 0;
}

}  // namespace dvm::irq
