// Helpers shared by the libvirt/ tests: a scratch folder with a stand-in
// kernel, and domain XML around it.
#ifndef DVM_LIBVIRT_TEST_UTIL_H_
#define DVM_LIBVIRT_TEST_UTIL_H_

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"

namespace dvm::libvirt::testing {

class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/dvm-libvirt-test.XXXXXX";
    path_ = mkdtemp(tmpl);
    kernel_ = path_ + "/vmlinuz";
    FILE* f = std::fopen(kernel_.c_str(), "w");
    std::fputs("not really a kernel", f);
    std::fclose(f);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  const std::string& kernel() const { return kernel_; }

 private:
  std::string path_;
  std::string kernel_;
};

inline std::string DomainXml(const std::string& name, const std::string& kernel, int vcpus = 2,
                             const std::string& extra = "") {
  return absl::StrCat("<domain type='kvm'><name>", name, "</name><memory unit='MiB'>256</memory><vcpu>", vcpus,
                      "</vcpu><os><type>hvm</type><kernel>", kernel, "</kernel></os>", extra, "</domain>");
}

}  // namespace dvm::libvirt::testing

#endif  // DVM_LIBVIRT_TEST_UTIL_H_
