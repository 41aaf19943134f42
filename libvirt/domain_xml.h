// libvirt domain XML <-> VmSpec.
//
// What dvm understands (everything else is refused with the reason, or, for
// the few elements that change nothing dvm does, accepted and dropped):
//
//   <domain type='kvm'>
//     <name>, <uuid> (generated when absent), <title>, <description>
//     <memory unit=...>, <currentMemory> (must not exceed memory), <vcpu>
//     <os><type>hvm</type><kernel/><initrd/><cmdline/></os>   direct boot only
//     <devices>
//       <disk type='file' device='disk'><source file=.../><readonly/></disk>
//       <interface type='ethernet'><target dev='TAP'/><mac address=.../></interface>
//       <serial type='file|null|pty'>   the guest console (pty: dvmd's log of the domain)
//     </devices>
//     <metadata>
//       <dvm:cluster xmlns:dvm='urn:dvm:cluster:1' transport='tcp|dpdk' key_file='...'>
//         <dvm:home policy='interleave' interleave='4K'/>   (or policy='range' with
//           <dvm:range start=... size=... node=.../> children)
//         <dvm:node id='0' address='host:port' vcpus='0-1'/>   (or vcpu_count='N';
//           <dvm:dpdk_arg>...</dvm:dpdk_arg> children)
//       </dvm:cluster>
//       ...other tools' metadata, kept as is...
//     </metadata>
//
// Without <dvm:cluster> the VM is one node running every vCPU. The mapped
// VmSpec goes through spec::Validate, so the rules are the TOML config's.
// FormatDomainXml writes a document that ParseDomainXml accepts unchanged.
#ifndef DVM_LIBVIRT_DOMAIN_XML_H_
#define DVM_LIBVIRT_DOMAIN_XML_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "libvirt/uuid.h"
#include "libvirt/xdr.h"
#include "vmm/spec/vm_spec.h"

namespace dvm::libvirt {

inline constexpr char kDvmNamespace[] = "urn:dvm:cluster:1";

struct DomainDef {
  Uuid uuid{};
  std::string title;
  std::string description;
  spec::VmSpec spec;
  // Elements of <metadata> in other namespaces, serialized whole.
  std::vector<std::string> foreign_metadata;
};

// Parses and validates. Errors carry a libvirt code (vir_error.h):
// kXmlError for malformed or incomplete XML, kConfigUnsupported for what dvm
// cannot do or a VmSpec that fails validation (the message names each problem).
// With validate=false the VmSpec is mapped but not checked against the host
// (dvmd's store: a kernel that went missing must not make a domain vanish;
// it is checked again at start).
absl::StatusOr<DomainDef> ParseDomainXml(absl::string_view xml, const spec::HostLimits& host, bool validate = true);

// spec::Validate on the domain's VmSpec, its problems named the XML way.
absl::Status ValidateDomain(const DomainDef& def, const spec::HostLimits& host);

// (domain_xml_format.cc)
std::string FormatDomainXml(const DomainDef& def);


}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_DOMAIN_XML_H_
