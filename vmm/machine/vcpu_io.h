// Where one vCPU's port and MMIO accesses go: its own LAPIC page first, then
// the devices, which are on this node's buses (node 0) or on another node
// (forwarded). Unclaimed reads return all-ones and unclaimed writes are
// dropped, as on a PC with nothing at that address; both are counted.
#ifndef DVM_VMM_MACHINE_VCPU_IO_H_
#define DVM_VMM_MACHINE_VCPU_IO_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "vmm/bus/bus.h"
#include "vmm/cluster/io_forwarding.h"
#include "vmm/irq/lapic.h"
#include "vmm/machine/timer_loop.h"
#include "vmm/vcpu/exit_handler.h"

namespace dvm::machine {

struct IoCounters {
  std::atomic<uint64_t> unclaimed_pio{0};
  std::atomic<uint64_t> unclaimed_mmio{0};
  std::atomic<uint64_t> last_unclaimed_mmio{0};  // address, for diagnostics
  // Unclaimed accesses per port, to see what a guest probes for in vain.
  std::array<std::atomic<uint32_t>, 65536> unclaimed_by_port{};

  // "0xcfc x 33000, 0x2e9 x 40" for the most-probed ports.
  std::string TopUnclaimedPorts(size_t count) const;
};

// The devices on this node's PIO and MMIO buses. On the device node it serves
// the local vCPUs and, through the IoServer, the other nodes' vCPUs.
class LocalDevices final : public vcpu::VcpuIo {
 public:
  LocalDevices(const bus::Bus* pio, const bus::Bus* mmio, TimerLoop* timers, IoCounters* counters)
      : pio_(pio), mmio_(mmio), timers_(timers), counters_(counters) {}

  void Pio(uint16_t port, std::span<uint8_t> data, bool is_write) override;
  void Mmio(Gpa address, std::span<uint8_t> data, bool is_write) override;

 private:
  void Access(const bus::Bus* bus, uint64_t address, std::span<uint8_t> data, bool is_write,
              std::atomic<uint64_t>& unclaimed);

  const bus::Bus* const pio_;
  const bus::Bus* const mmio_;
  TimerLoop* const timers_;
  IoCounters* const counters_;
};

// One vCPU's devices on a node that does not hold them: every access goes to
// the device node, and the vCPU waits for the answer. If the device node is
// gone, reads see all-ones; the VM is stopping by then.
class ForwardedDevices final : public vcpu::VcpuIo {
 public:
  ForwardedDevices(cluster::IoForwarder* forwarder, VcpuId vcpu) : forwarder_(forwarder), vcpu_(vcpu) {}

  void Pio(uint16_t port, std::span<uint8_t> data, bool is_write) override;
  void Mmio(Gpa address, std::span<uint8_t> data, bool is_write) override;

 private:
  void Forward(cluster::IoSpace space, uint64_t address, std::span<uint8_t> data, bool is_write);

  cluster::IoForwarder* const forwarder_;
  const VcpuId vcpu_;
};

// One vCPU's accesses: its own LAPIC page here, everything else to `devices`.
class VcpuIoRouter final : public vcpu::VcpuIo {
 public:
  VcpuIoRouter(irq::Lapic* lapic, TimerLoop* timers, vcpu::VcpuIo* devices)
      : lapic_(lapic), timers_(timers), devices_(devices) {}

  void Pio(uint16_t port, std::span<uint8_t> data, bool is_write) override;
  void Mmio(Gpa address, std::span<uint8_t> data, bool is_write) override;

 private:
  irq::Lapic* const lapic_;
  TimerLoop* const timers_;
  vcpu::VcpuIo* const devices_;
};

}  // namespace dvm::machine

#endif  // DVM_VMM_MACHINE_VCPU_IO_H_
