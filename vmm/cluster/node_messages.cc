#include "vmm/cluster/node_messages.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace dvm::cluster {
namespace {

template <typename T>
void Put(uint8_t* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
}
template <typename T>
T Get(const uint8_t* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t{p[i]} << (8 * i);
  return static_cast<T>(v);
}

absl::Status CheckSize(std::span<const uint8_t> body, size_t want, const char* what) {
  if (body.size() == want) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " is ", body.size(), " bytes, want ", want));
}

bool ValidDeliveryMode(uint8_t m) { return m <= 7 && m != 3; }

}  // namespace

// 0 vector, 1 mode, 2 dest_mode, 3 dest, 4 shorthand, 5 trigger, 6 level, 7 source
std::array<uint8_t, kApicMessageBytes> EncodeApicMessage(const irq::ApicMessage& m) {
  return {m.vector,
          static_cast<uint8_t>(m.mode),
          static_cast<uint8_t>(m.dest_mode),
          m.dest,
          static_cast<uint8_t>(m.shorthand),
          static_cast<uint8_t>(m.trigger),
          static_cast<uint8_t>(m.level ? 1 : 0),
          m.source_id};
}

absl::StatusOr<irq::ApicMessage> DecodeApicMessage(std::span<const uint8_t> body) {
  if (absl::Status s = CheckSize(body, kApicMessageBytes, "APIC message"); !s.ok()) return s;
  const uint8_t* p = body.data();
  if (!ValidDeliveryMode(p[1]) || p[2] > 1 || p[4] > 3 || p[5] > 1 || p[6] > 1) {
    return absl::InvalidArgumentError("APIC message has an out-of-range field");
  }
  irq::ApicMessage m;
  m.vector = p[0];
  m.mode = static_cast<irq::DeliveryMode>(p[1]);
  m.dest_mode = static_cast<irq::DestMode>(p[2]);
  m.dest = p[3];
  m.shorthand = static_cast<irq::Shorthand>(p[4]);
  m.trigger = static_cast<irq::TriggerMode>(p[5]);
  m.level = p[6] == 1;
  m.source_id = p[7];
  return m;
}

// 0 id, 1-3 zero, 4 ldr, 8 dfr
std::array<uint8_t, kApicAddressingBytes> EncodeApicAddressing(const irq::ApicAddressing& a) {
  std::array<uint8_t, kApicAddressingBytes> out{};
  out[0] = a.id;
  Put<uint32_t>(&out[4], a.ldr);
  Put<uint32_t>(&out[8], a.dfr);
  return out;
}

absl::StatusOr<irq::ApicAddressing> DecodeApicAddressing(std::span<const uint8_t> body) {
  if (absl::Status s = CheckSize(body, kApicAddressingBytes, "APIC addressing"); !s.ok()) return s;
  const uint8_t* p = body.data();
  if (p[1] != 0 || p[2] != 0 || p[3] != 0) {
    return absl::InvalidArgumentError("APIC addressing has nonzero reserved bytes");
  }
  return irq::ApicAddressing{.id = p[0], .ldr = Get<uint32_t>(p + 4), .dfr = Get<uint32_t>(p + 8)};
}

// 0 id, 8 vcpu, 12 space, 13 is_write, 14 size, 15 zero, 16 address, 24 data
std::array<uint8_t, kIoRequestBytes> EncodeIoRequest(const IoRequest& r) {
  std::array<uint8_t, kIoRequestBytes> out{};
  Put<uint64_t>(&out[0], r.id);
  Put<uint32_t>(&out[8], r.vcpu.value());
  out[12] = static_cast<uint8_t>(r.space);
  out[13] = r.is_write ? 1 : 0;
  out[14] = r.size;
  Put<uint64_t>(&out[16], r.address);
  std::memcpy(&out[24], r.data.data(), 8);
  return out;
}

absl::StatusOr<IoRequest> DecodeIoRequest(std::span<const uint8_t> body) {
  if (absl::Status s = CheckSize(body, kIoRequestBytes, "I/O request"); !s.ok()) return s;
  const uint8_t* p = body.data();
  IoRequest r;
  r.id = Get<uint64_t>(p);
  r.vcpu = VcpuId(Get<uint32_t>(p + 8));
  if (p[12] > 1 || p[13] > 1 || p[15] != 0) {
    return absl::InvalidArgumentError("I/O request has an out-of-range field");
  }
  r.space = static_cast<IoSpace>(p[12]);
  r.is_write = p[13] == 1;
  r.size = p[14];
  if (r.size != 1 && r.size != 2 && r.size != 4 && r.size != 8) {
    return absl::InvalidArgumentError(absl::StrCat("I/O request of ", r.size, " bytes"));
  }
  r.address = Get<uint64_t>(p + 16);
  if (r.space == IoSpace::kPio && (r.address > 0xFFFF || r.size == 8)) {
    return absl::InvalidArgumentError("PIO request outside the port space");
  }
  std::memcpy(r.data.data(), p + 24, 8);
  return r;
}

std::array<uint8_t, kIoReplyBytes> EncodeIoReply(const IoReply& r) {
  std::array<uint8_t, kIoReplyBytes> out{};
  Put<uint64_t>(&out[0], r.id);
  std::memcpy(&out[8], r.data.data(), 8);
  return out;
}

absl::StatusOr<IoReply> DecodeIoReply(std::span<const uint8_t> body) {
  if (absl::Status s = CheckSize(body, kIoReplyBytes, "I/O reply"); !s.ok()) return s;
  IoReply r;
  r.id = Get<uint64_t>(body.data());
  std::memcpy(r.data.data(), body.data() + 8, 8);
  return r;
}

// 0 kvmclock, 8 realtime, 16 flags, 20 zero, 24 tsc offset
std::array<uint8_t, kClockSyncBytes> EncodeClockSync(const ClockSync& c) {
  std::array<uint8_t, kClockSyncBytes> out{};
  Put<uint64_t>(&out[0], c.kvmclock_ns);
  Put<uint64_t>(&out[8], c.realtime_ns);
  Put<uint32_t>(&out[16], c.kvm_flags);
  Put<uint64_t>(&out[24], static_cast<uint64_t>(c.tsc_offset));
  return out;
}

absl::StatusOr<ClockSync> DecodeClockSync(std::span<const uint8_t> body) {
  if (absl::Status s = CheckSize(body, kClockSyncBytes, "clock sync"); !s.ok()) return s;
  const uint8_t* p = body.data();
  if (Get<uint32_t>(p + 20) != 0) return absl::InvalidArgumentError("clock sync has nonzero reserved bytes");
  return ClockSync{.kvmclock_ns = Get<uint64_t>(p),
                   .realtime_ns = Get<uint64_t>(p + 8),
                   .kvm_flags = Get<uint32_t>(p + 16),
                   .tsc_offset = static_cast<int64_t>(Get<uint64_t>(p + 24))};
}

// 0 exit status, 4 reason, 5-7 zero, 8 detail (the rest of the body)
std::vector<uint8_t> EncodeVmEnded(const VmEnded& e) {
  std::string_view detail(e.detail);
  if (detail.size() > kMaxEndDetail) detail = detail.substr(0, kMaxEndDetail);
  std::vector<uint8_t> out(8 + detail.size());
  Put<uint32_t>(&out[0], static_cast<uint32_t>(e.exit_status));
  out[4] = e.reason;
  for (size_t i = 0; i < detail.size(); ++i) {
    char c = detail[i];
    out[8 + i] = (c >= 0x20 && c < 0x7f) ? static_cast<uint8_t>(c) : '?';
  }
  return out;
}

absl::StatusOr<VmEnded> DecodeVmEnded(std::span<const uint8_t> body) {
  if (body.size() < 8 || body.size() > 8 + kMaxEndDetail) {
    return absl::InvalidArgumentError(absl::StrCat("VM-ended message is ", body.size(), " bytes"));
  }
  const uint8_t* p = body.data();
  if (p[5] != 0 || p[6] != 0 || p[7] != 0) {
    return absl::InvalidArgumentError("VM-ended message has nonzero reserved bytes");
  }
  VmEnded e{.exit_status = static_cast<int32_t>(Get<uint32_t>(p)), .reason = p[4], .detail = {}};
  for (size_t i = 8; i < body.size(); ++i) {
    // A peer's text goes to our terminal: nothing but printable ASCII.
    if (p[i] < 0x20 || p[i] >= 0x7f) return absl::InvalidArgumentError("VM-ended detail is not printable");
    e.detail.push_back(static_cast<char>(p[i]));
  }
  return e;
}

std::array<uint8_t, kStatsRequestBytes> EncodeStatsRequest(uint64_t id) {
  std::array<uint8_t, kStatsRequestBytes> out{};
  Put<uint64_t>(&out[0], id);
  return out;
}

absl::StatusOr<uint64_t> DecodeStatsRequest(std::span<const uint8_t> body) {
  if (absl::Status s = CheckSize(body, kStatsRequestBytes, "stats request"); !s.ok()) return s;
  return Get<uint64_t>(body.data());
}

namespace {

bool StatsChar(uint8_t c) { return c == '\n' || (c >= 0x20 && c < 0x7f); }

// `text` cut to kMaxStatsText at the end of a line, with a note that it was.
std::string_view CutStatsText(std::string_view text, std::string* storage) {
  if (text.size() <= kMaxStatsText) return text;
  constexpr std::string_view kNote = "(the rest of this node's statistics is cut: at most 4096 bytes travel)\n";
  std::string_view head = text.substr(0, kMaxStatsText - kNote.size() - 1);  // room for a '\n'
  if (size_t nl = head.rfind('\n'); nl != std::string_view::npos) head = head.substr(0, nl + 1);
  *storage = std::string(head);
  if (!storage->empty() && storage->back() != '\n') storage->push_back('\n');
  storage->append(kNote);
  return *storage;
}

}  // namespace

// body: 0 id, 8 u32 text length, 12 zero; page: the text, then zeros
EncodedStatsReply EncodeStatsReply(const StatsReply& r) {
  std::string storage;
  std::string_view text = CutStatsText(r.text, &storage);
  EncodedStatsReply out;
  Put<uint64_t>(&out.body[0], r.id);
  Put<uint32_t>(&out.body[8], static_cast<uint32_t>(text.size()));
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t c = static_cast<uint8_t>(text[i]);
    out.page[i] = StatsChar(c) ? c : '?';
  }
  return out;
}

absl::StatusOr<StatsReply> DecodeStatsReply(std::span<const uint8_t> body, const uint8_t* page) {
  if (absl::Status s = CheckSize(body, kStatsReplyBytes, "stats reply"); !s.ok()) return s;
  if (page == nullptr) return absl::InvalidArgumentError("stats reply without its text page");
  const uint8_t* p = body.data();
  const uint32_t length = Get<uint32_t>(p + 8);
  if (Get<uint32_t>(p + 12) != 0) return absl::InvalidArgumentError("stats reply has nonzero reserved bytes");
  if (length > kMaxStatsText) return absl::InvalidArgumentError(absl::StrCat("stats reply of ", length, " bytes"));
  StatsReply r{.id = Get<uint64_t>(p), .text = {}};
  for (size_t i = 0; i < kPageSize; ++i) {
    // A peer's text goes to a terminal: printable ASCII and newlines only,
    // and nothing hidden after it.
    if (i < length ? !StatsChar(page[i]) : page[i] != 0) {
      return absl::InvalidArgumentError("stats reply text is not printable");
    }
  }
  r.text.assign(reinterpret_cast<const char*>(page), length);
  return r;
}

}  // namespace dvm::cluster
