#include "libvirt/remote_messages.h"

namespace dvm::libvirt {

NonnullDomain NonnullDomain::Read(XdrReader& r) {
  NonnullDomain d;
  d.name = r.String(kMaxNameBytes);
  d.uuid = r.FixedUuid();
  d.id = r.I32();
  return d;
}

void NonnullDomain::Write(XdrWriter& w) const {
  w.String(name);
  w.FixedOpaque(uuid);
  w.I32(id);
}

std::vector<uint8_t> RemoteError::Encode() const {
  XdrWriter w;
  w.I32(code);
  w.I32(domain);
  w.OptionalString(message);
  w.I32(level);
  w.Bool(false);  // dom
  w.Bool(false);  // str1
  w.Bool(false);  // str2
  w.Bool(false);  // str3
  w.I32(0);       // int1
  w.I32(0);       // int2
  w.Bool(false);  // net
  return w.Take();
}

absl::StatusOr<RemoteError> RemoteError::Decode(std::span<const uint8_t> body) {
  XdrReader r(body);
  RemoteError e;
  e.code = r.I32();
  e.domain = r.I32();
  e.message = r.OptionalString(kMaxStringBytes);
  e.level = r.I32();
  if (r.Bool()) NonnullDomain::Read(r);
  for (int i = 0; i < 3; ++i) r.OptionalString(kMaxStringBytes);
  r.I32();
  r.I32();
  if (r.Bool()) {  // remote_nonnull_network {name, uuid}
    r.String(kMaxNameBytes);
    r.FixedUuid();
  }
  if (!r.ok() || !r.AtEnd()) return absl::InvalidArgumentError("malformed remote_error");
  return e;
}

OpenArgs OpenArgs::Read(XdrReader& r) {
  OpenArgs a;
  a.name = r.OptionalString(kMaxNameBytes);
  a.flags = r.U32();
  return a;
}

FeatureArgs FeatureArgs::Read(XdrReader& r) { return {r.I32()}; }

OptionalStringArgs OptionalStringArgs::Read(XdrReader& r) { return {r.OptionalString(kMaxNameBytes)}; }

DomainArgs DomainArgs::Read(XdrReader& r) { return {NonnullDomain::Read(r)}; }

DomainFlagsArgs DomainFlagsArgs::Read(XdrReader& r) {
  DomainFlagsArgs a;
  a.dom = NonnullDomain::Read(r);
  a.flags = r.U32();
  return a;
}

DomainIntArgs DomainIntArgs::Read(XdrReader& r) {
  DomainIntArgs a;
  a.dom = NonnullDomain::Read(r);
  a.value = r.I32();
  return a;
}

ListSnapshotsArgs ListSnapshotsArgs::Read(XdrReader& r) {
  ListSnapshotsArgs a;
  a.dom = NonnullDomain::Read(r);
  a.need_results = r.I32();
  a.flags = r.U32();
  return a;
}

XmlArgs XmlArgs::Read(XdrReader& r) { return {r.String(kMaxStringBytes)}; }

XmlFlagsArgs XmlFlagsArgs::Read(XdrReader& r) {
  XmlFlagsArgs a;
  a.xml = r.String(kMaxStringBytes);
  a.flags = r.U32();
  return a;
}

NameArgs NameArgs::Read(XdrReader& r) { return {r.String(kMaxNameBytes)}; }

IdArgs IdArgs::Read(XdrReader& r) { return {r.I32()}; }

UuidArgs UuidArgs::Read(XdrReader& r) { return {r.FixedUuid()}; }

MaxArgs MaxArgs::Read(XdrReader& r) { return {r.I32()}; }

ListAllArgs ListAllArgs::Read(XdrReader& r) {
  ListAllArgs a;
  a.need_results = r.I32();
  a.flags = r.U32();
  return a;
}

void NodeInfo::Write(XdrWriter& w) const {
  w.CharArray(model.substr(0, 31), 32);  // NUL-terminated in a char[32]
  w.U64(memory_kib);
  w.I32(cpus);
  w.I32(mhz);
  w.I32(nodes);
  w.I32(sockets);
  w.I32(cores);
  w.I32(threads);
}

void DomainInfo::Write(XdrWriter& w) const {
  w.U32(static_cast<uint32_t>(state));  // unsigned char: one word
  w.U64(max_mem_kib);
  w.U64(memory_kib);
  w.U32(vcpus);  // unsigned short: one word
  w.U64(cpu_time_ns);
}

std::vector<uint8_t> EncodeInt(int32_t v) {
  XdrWriter w;
  w.I32(v);
  return w.Take();
}

std::vector<uint8_t> EncodeU64(uint64_t v) {
  XdrWriter w;
  w.U64(v);
  return w.Take();
}

std::vector<uint8_t> EncodeString(const std::string& s) {
  XdrWriter w;
  w.String(s);
  return w.Take();
}

std::vector<uint8_t> EncodeDomain(const NonnullDomain& d) {
  XdrWriter w;
  d.Write(w);
  return w.Take();
}

}  // namespace dvm::libvirt
