// Names the calling thread, so `top -H`, perf and /proc/PID/task/*/comm say
// which of a node's threads is busy ("vcpu 2", "dsm-fault", "net-tcp", ...).
#ifndef DVM_INCLUDE_DVM_THREAD_NAME_H_
#define DVM_INCLUDE_DVM_THREAD_NAME_H_

#include <pthread.h>

#include <string>

namespace dvm {

// Linux keeps at most 15 characters; longer names are cut.
inline void SetThreadName(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace dvm

#endif  // DVM_INCLUDE_DVM_THREAD_NAME_H_
