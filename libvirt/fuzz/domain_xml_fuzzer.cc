// libFuzzer target for the domain XML front end: any bytes must parse or be
// refused with a reason; whatever parses must format to XML that parses again
// (dumpxml's output is always accepted by define).
#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <string>

#include "libvirt/domain_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string xml(reinterpret_cast<const char*>(data), size);
  dvm::spec::HostLimits host{64ull << 30};
  (void)dvm::libvirt::ParseDomainXml(xml, host, /*validate=*/true);
  auto def = dvm::libvirt::ParseDomainXml(xml, host, /*validate=*/false);
  if (!def.ok()) return 0;
  const std::string dumped = dvm::libvirt::FormatDomainXml(*def);
  auto again = dvm::libvirt::ParseDomainXml(dumped, host, /*validate=*/false);
  if (!again.ok()) {
    std::fprintf(stderr, "dumped XML does not parse: %s\n%s\n", std::string(again.status().message()).c_str(),
                 dumped.c_str());
    __builtin_trap();
  }
  return 0;
}
