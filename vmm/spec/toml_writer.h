// VmSpec -> a TOML config that ParseConfig reads back into the same VmSpec.
// dvmd uses it to hand a domain to `dvm run`. Paths are written as they are
// in the spec (absolute after parsing), sizes in bytes.
#ifndef DVM_VMM_SPEC_TOML_WRITER_H_
#define DVM_VMM_SPEC_TOML_WRITER_H_

#include <string>

#include "vmm/spec/vm_spec.h"

namespace dvm::spec {

std::string WriteTomlConfig(const VmSpec& spec);

// A TOML basic string with its quotes: "a\"b".
std::string TomlString(const std::string& s);

}  // namespace dvm::spec

#endif  // DVM_VMM_SPEC_TOML_WRITER_H_
