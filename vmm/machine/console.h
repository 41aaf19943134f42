// The guest's serial console on the host: UART output to a file descriptor
// (the terminal, or a log file) and host input into the UART.
#ifndef DVM_VMM_MACHINE_CONSOLE_H_
#define DVM_VMM_MACHINE_CONSOLE_H_

#include <cstdint>
#include <thread>

#include "dvm/unique_fd.h"
#include "vmm/devices/serial.h"

namespace dvm::machine {

// Writes each byte the guest sends straight to `fd` (not owned).
class FdSink final : public devices::ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  void Put(uint8_t byte) override;

 private:
  int fd_;
};

// Feeds bytes read from `input_fd` (not owned) into the UART on its own
// thread, until Stop(). Bytes the UART cannot take yet wait and are offered
// again, so typing ahead loses nothing.
class ConsoleInput {
 public:
  ConsoleInput(int input_fd, devices::Serial* serial);
  ~ConsoleInput();
  void Start();
  void Stop();

 private:
  void Loop();

  int input_fd_;
  devices::Serial* serial_;
  UniqueFd stop_;  // eventfd
  std::thread thread_;
};

}  // namespace dvm::machine

#endif  // DVM_VMM_MACHINE_CONSOLE_H_
