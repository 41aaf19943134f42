// Helpers shared by the libvirt/ tests: a scratch folder with a stand-in
// kernel, and domain XML around it.
#ifndef DVM_LIBVIRT_TEST_UTIL_H_
#define DVM_LIBVIRT_TEST_UTIL_H_

#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
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

// A one-shot latch. Not absl::Notification: Debian's Abseil is built
// without TSan annotations, so TSan does not see what it orders.
class Latch {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  bool WaitFor(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }
  void Wait() { WaitFor(std::chrono::hours(1)); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

inline std::string DomainXml(const std::string& name, const std::string& kernel, int vcpus = 2,
                             const std::string& extra = "") {
  return absl::StrCat("<domain type='kvm'><name>", name, "</name><memory unit='MiB'>256</memory><vcpu>", vcpus,
                      "</vcpu><os><type>hvm</type><kernel>", kernel, "</kernel></os>", extra, "</domain>");
}

}  // namespace dvm::libvirt::testing

#endif  // DVM_LIBVIRT_TEST_UTIL_H_
