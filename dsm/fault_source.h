// Threads that wait on a userfaultfd and hand each batch of faults to a
// callback. The callback resolves them (or arranges for them to be resolved
// later); this class only reads.
//
// Stop() ends the threads. It does not wake threads blocked in a fault: only
// resolving their pages does, and closing the userfaultfd would let them map
// zeros, so the owner must stop its faulting threads (vCPUs, workers) first or
// exit the process.
#ifndef DVM_DSM_FAULT_SOURCE_H_
#define DVM_DSM_FAULT_SOURCE_H_

#include <functional>
#include <span>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "dvm/unique_fd.h"
#include "vmm/memory/userfaultfd.h"

namespace dvm::dsm {

class FaultSource {
 public:
  using Handler = std::function<void(std::span<const memory::Fault>)>;
  // Called once if reading the userfaultfd fails; the threads then stop.
  using ErrorHandler = std::function<void(const absl::Status&)>;

  FaultSource(memory::Userfaultfd* uffd, Handler handler, ErrorHandler on_error);
  ~FaultSource() { Stop(); }
  FaultSource(const FaultSource&) = delete;
  FaultSource& operator=(const FaultSource&) = delete;

  // Starts `threads` readers; several let faults on different pages be taken
  // in parallel while one reader is busy resolving.
  absl::Status Start(int threads);
  void Stop();

 private:
  void Loop();

  memory::Userfaultfd* uffd_;
  Handler handler_;
  ErrorHandler on_error_;
  UniqueFd stop_;  // eventfd, readable once Stop() was called
  std::vector<std::thread> threads_;
};

}  // namespace dvm::dsm

#endif  // DVM_DSM_FAULT_SOURCE_H_
