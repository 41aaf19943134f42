#include "vmm/machine/machine.h"

#include <time.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dvm/log.h"
#include "dvm/status.h"
#include "vmm/boot/acpi.h"
#include "vmm/boot/linux_loader.h"
#include "vmm/bus/bus.h"
#include "vmm/cluster/cluster_node.h"
#include "vmm/devices/acpi_pm.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/pit.h"
#include "vmm/devices/rtc.h"
#include "vmm/devices/serial.h"
#include "vmm/hw/clock.h"
#include "vmm/hw/power.h"
#include "vmm/irq/apic_bus.h"
#include "vmm/irq/ioapic.h"
#include "vmm/irq/isa_irq.h"
#include "vmm/irq/lapic.h"
#include "vmm/irq/pic.h"
#include "vmm/kvm/kvm.h"
#include "vmm/layout/layout.h"
#include "vmm/machine/console.h"
#include "vmm/machine/cpu_setup.h"
#include "vmm/machine/debug_exit.h"
#include "vmm/machine/timer_loop.h"
#include "vmm/machine/vcpu_io.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/vcpu/kvm_backend.h"
#include "vmm/vcpu/runner.h"

namespace dvm::machine {
namespace {

// Where KVM may put its Intel-only real-mode helpers: in the hole, clear of
// the IOAPIC and LAPIC pages. (AMD ignores both.)
constexpr Gpa kTssAddr{0xFFFBD000};
constexpr Gpa kIdentityMapAddr{0xFFFBC000};
constexpr uint64_t kMaxKernelBytes = 256 * kMiB;

absl::StatusOr<std::vector<uint8_t>> ReadFile(const std::string& path, uint64_t limit, const char* what) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot open the ", what, " ", path));
  std::streamoff size = in.tellg();
  if (size < 0 || static_cast<uint64_t>(size) > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", what, " ", path, " is ", FormatSize(static_cast<uint64_t>(size)),
                     "; the limit is ", FormatSize(limit)));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read the ", what, " ", path));
  }
  return bytes;
}

// Discards the console when there is nowhere to write it.
class NullSink final : public devices::ByteSink {
 public:
  void Put(uint8_t) override {}
};

}  // namespace

// Declared in the order they must be built; destroyed in reverse, so the vCPU
// threads stop before anything they use goes away.
struct Machine::Parts {
  // Forwards device power requests to the machine.
  class Power final : public hw::PowerControl {
   public:
    explicit Power(Machine* m) : m_(m) {}
    void RequestPowerOff() override { m_->End(EndReason::kPowerOff, 0, "the guest powered off"); }
    void RequestReset() override {
      m_->End(EndReason::kReset, 1, "the guest reset the machine (dvm does not reboot; a panic with panic=-1 does this)");
    }

   private:
    Machine* m_;
  };

  struct Vcpu {
    std::optional<kvm::Vcpu> kvm_vcpu;
    std::unique_ptr<irq::Lapic> lapic;
    std::optional<vcpu::KvmBackend> backend;
    std::unique_ptr<ForwardedDevices> forwarded;  // on nodes without the devices
    std::unique_ptr<VcpuIoRouter> io;
    std::unique_ptr<vcpu::Runner> runner;
  };

  explicit Parts(Machine* m) : power(m), timers(&clock) {}

  bool device_node() const { return self == cluster::kDeviceNode; }

  spec::VmSpec spec;
  NodeId self;
  std::chrono::seconds stop_timeout{20};
  std::optional<kvm::Kvm> kvm;
  std::optional<kvm::Vm> vm;
  std::optional<memory::GuestMemory> memory;
  // With several nodes; destroyed after everything that may touch guest RAM
  // or send to a peer, before the memory it keeps coherent.
  std::unique_ptr<cluster::ClusterNode> cluster;
  hw::MonotonicClock clock;
  Power power;
  std::optional<irq::ApicBus> apic_bus;
  std::unique_ptr<irq::Ioapic> ioapic;
  irq::PicPair pic;
  std::vector<std::unique_ptr<irq::IsaIrqLine>> isa_irqs;
  std::unique_ptr<devices::ByteSink> console_sink;
  std::unique_ptr<devices::Serial> serial;
  std::unique_ptr<devices::Pit> pit;
  std::unique_ptr<devices::Rtc> rtc;
  std::unique_ptr<devices::I8042> i8042;
  std::unique_ptr<devices::AcpiPm> acpi_pm;
  std::unique_ptr<DebugExit> debug_exit;
  bus::Bus pio{"pio"};
  bus::Bus mmio{"mmio"};
  TimerLoop timers;
  IoCounters io_counters;
  std::optional<LocalDevices> devices;  // the device node's buses
  std::unique_ptr<ConsoleInput> console_in;
  std::vector<std::unique_ptr<Vcpu>> vcpus;
};

namespace {

// The guest-physical ranges of RAM offsets [offset, offset + size): RAM above
// the 32-bit hole follows low RAM in the memfd.
std::vector<boot::GpaRange> GpaRangesOfRam(uint64_t offset, uint64_t size, uint64_t ram_bytes) {
  std::vector<boot::GpaRange> out;
  const uint64_t low = layout::LowRamBytes(ram_bytes);
  if (offset < low) {
    const uint64_t below = std::min(size, low - offset);
    out.push_back({Gpa(offset), below});
    offset += below;
    size -= below;
  }
  if (size > 0) out.push_back({Gpa(layout::kHoleEnd.value() + (offset - low)), size});
  return out;
}

// What the ACPI tables tell the guest: every vCPU, and with NUMA homes on
// several nodes, each node's vCPUs and slice of RAM as a NUMA node.
boot::AcpiMachine AcpiMachineOf(const spec::VmSpec& spec) {
  boot::AcpiMachine m{.vcpu_count = spec.vcpu_count};
  if (spec.nodes.size() < 2) return m;
  for (const spec::HomeRange& slice : spec::NumaSlices(spec)) {
    boot::AcpiNumaNode node;
    for (VcpuId v : spec.FindNode(slice.node)->vcpus) node.apic_ids.push_back(static_cast<uint8_t>(v.value()));
    node.memory = GpaRangesOfRam(slice.start.value(), slice.size, spec.memory_bytes);
    m.numa.push_back(std::move(node));
  }
  return m;
}

// Loads kernel, initrd, boot tables and ACPI tables into guest RAM; returns
// the bootstrap processor's entry state. Needs no KVM, so a bad kernel or a
// memory size too small is reported the same with or without /dev/kvm. With
// NUMA homes everything loaded stays in node 0's slice, where those pages
// start (the others start on their homes).
absl::StatusOr<boot::BootCpuState> LoadGuest(Machine::Parts& p) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> kernel, ReadFile(p.spec.kernel, kMaxKernelBytes, "kernel"));
  std::vector<uint8_t> initrd;
  if (!p.spec.initrd.empty()) {
    ASSIGN_OR_RETURN(initrd, ReadFile(p.spec.initrd, p.spec.memory_bytes, "initrd"));
  }
  uint64_t low = layout::LowRamBytes(p.spec.memory_bytes);
  std::span<uint8_t> low_ram(p.memory->mapped(), low);
  boot::LinuxBootConfig config{kernel, initrd, p.spec.cmdline, p.spec.memory_bytes};
  if (p.spec.nodes.size() > 1) {
    std::vector<spec::HomeRange> slices = spec::NumaSlices(p.spec);
    if (!slices.empty()) config.load_limit = slices[0].start.value() + slices[0].size;
  }
  absl::StatusOr<boot::LinuxBootResult> loaded = boot::LoadLinux(low_ram, config);
  if (!loaded.ok()) return Annotate(loaded.status(), p.spec.kernel);
  RETURN_IF_ERROR(boot::WriteAcpiTables(low_ram, AcpiMachineOf(p.spec)));
  return loaded->bsp;
}

absl::Status MapMemory(Machine::Parts& p) {
  RETURN_IF_ERROR(p.vm->SetTssAddr(kTssAddr));
  RETURN_IF_ERROR(p.vm->SetIdentityMapAddr(kIdentityMapAddr));
  uint64_t low = layout::LowRamBytes(p.spec.memory_bytes);
  uint64_t high = layout::HighRamBytes(p.spec.memory_bytes);
  auto base = reinterpret_cast<uint64_t>(p.memory->mapped());
  RETURN_IF_ERROR(p.vm->SetMemoryRegion({.slot = 0, .gpa = Gpa(0), .size = low, .hva = Hva(base)}));
  if (high > 0) {
    RETURN_IF_ERROR(p.vm->SetMemoryRegion({.slot = 1, .gpa = layout::kHoleEnd, .size = high, .hva = Hva(base + low)}));
  }
  return absl::OkStatus();
}

absl::Status BuildDevices(Machine::Parts& p, const MachineOptions& options, Machine* machine) {
  p.ioapic = std::make_unique<irq::Ioapic>(layout::kIoapicId, &*p.apic_bus);
  for (uint8_t irq = 0; irq < 16; ++irq) {
    p.isa_irqs.push_back(std::make_unique<irq::IsaIrqLine>(irq, &p.pic, p.ioapic.get()));
  }
  if (options.console_out_fd >= 0) {
    p.console_sink = std::make_unique<FdSink>(options.console_out_fd);
  } else {
    p.console_sink = std::make_unique<NullSink>();
  }
  p.serial = std::make_unique<devices::Serial>(p.console_sink.get(), p.isa_irqs[layout::kIrqCom1].get());
  p.pit = std::make_unique<devices::Pit>(&p.clock, p.isa_irqs[layout::kIrqPit].get());
  p.rtc = std::make_unique<devices::Rtc>(
      &p.clock, devices::RtcConfig{.unix_seconds = time(nullptr), .ram_bytes = p.spec.memory_bytes,
                                   .vcpu_count = p.spec.vcpu_count});
  p.i8042 = std::make_unique<devices::I8042>(p.isa_irqs[layout::kIrqKeyboard].get(), &p.power);
  p.acpi_pm = std::make_unique<devices::AcpiPm>(&p.clock, p.isa_irqs[layout::kIrqAcpiSci].get(), &p.power,
                                                boot::kAcpiS5SleepType);
  p.debug_exit = std::make_unique<DebugExit>([machine](int code) {
    machine->End(EndReason::kExitPort, code, absl::StrCat("the guest wrote ", code, " to the exit port"));
  });
  return absl::OkStatus();
}

absl::Status RegisterDevices(Machine::Parts& p) {
  bus::Bus& pio = p.pio;
  RETURN_IF_ERROR(pio.Register(layout::kPicMasterPort, 2, &p.pic.master(), "pic-master"));
  RETURN_IF_ERROR(pio.Register(layout::kPicSlavePort, 2, &p.pic.slave(), "pic-slave"));
  RETURN_IF_ERROR(pio.Register(layout::kElcrPort, 2, &p.pic.elcr(), "elcr"));
  RETURN_IF_ERROR(pio.Register(layout::kPitPort, 4, &p.pit->ports(), "pit"));
  RETURN_IF_ERROR(pio.Register(layout::kSystemControlPortB, 1, &p.pit->port61(), "port61"));
  RETURN_IF_ERROR(pio.Register(layout::kI8042DataPort, 1, &p.i8042->data(), "i8042-data"));
  RETURN_IF_ERROR(pio.Register(layout::kI8042CommandPort, 1, &p.i8042->command(), "i8042-command"));
  RETURN_IF_ERROR(pio.Register(layout::kRtcPort, 2, p.rtc.get(), "rtc"));
  RETURN_IF_ERROR(pio.Register(layout::kCom1Port, 8, p.serial.get(), "com1"));
  RETURN_IF_ERROR(pio.Register(layout::kAcpiPmPort, layout::kAcpiPmPortCount, p.acpi_pm.get(), "acpi-pm"));
  RETURN_IF_ERROR(pio.Register(kDebugExitPort, 1, p.debug_exit.get(), "debug-exit"));
  RETURN_IF_ERROR(p.mmio.Register(layout::kIoapic.value(), layout::kIoapicSize, p.ioapic.get(), "ioapic"));
  pio.Freeze();
  p.mmio.Freeze();
  p.timers.Add({[&p] { return p.pit->NextDeadlineNs(); }, [&p] { p.pit->Tick(); }});
  p.devices.emplace(&p.pio, &p.mmio, &p.timers, &p.io_counters);
  return absl::OkStatus();
}

absl::Status BuildVcpus(Machine::Parts& p, const std::function<void(const vcpu::VcpuEnd&)>& on_end) {
  ASSIGN_OR_RETURN(std::vector<kvm_cpuid_entry2> supported, p.kvm->GetSupportedCpuid());
  ASSIGN_OR_RETURN(size_t run_size, p.kvm->VcpuMmapSize());
  // The device node's LAPICs tell its IOAPIC of level-triggered EOIs
  // directly; the other nodes' through the link.
  irq::EoiSink* eoi = p.device_node() ? static_cast<irq::EoiSink*>(p.ioapic.get()) : &p.cluster->apic_link();
  for (VcpuId id : p.spec.FindNode(p.self)->vcpus) {
    const uint32_t i = id.value();
    auto slot = std::make_unique<Machine::Parts::Vcpu>();
    ASSIGN_OR_RETURN(kvm::Vcpu kvm_vcpu, p.vm->CreateVcpu(id));
    slot->kvm_vcpu.emplace(std::move(kvm_vcpu));
    const boot::CpuPackages packages =
        p.spec.nodes.size() > 1 ? boot::CpuPackages::kPerVcpu : boot::CpuPackages::kOne;
    RETURN_IF_ERROR(Annotate(SetupVcpu(*slot->kvm_vcpu, supported, i, p.spec.vcpu_count, packages),
                             absl::StrCat("setting up vCPU ", i)));
    ASSIGN_OR_RETURN(vcpu::KvmBackend backend, vcpu::KvmBackend::Create(&*slot->kvm_vcpu, run_size));
    slot->backend.emplace(std::move(backend));
    const bool bsp = i == 0;
    slot->lapic = std::make_unique<irq::Lapic>(static_cast<uint8_t>(i), bsp, &p.clock, &*p.apic_bus, eoi);
    p.apic_bus->Attach(slot->lapic.get());
    vcpu::VcpuIo* devices = nullptr;
    if (p.device_node()) {
      devices = &*p.devices;
    } else {
      slot->forwarded = std::make_unique<ForwardedDevices>(&p.cluster->forwarder(), id);
      devices = slot->forwarded.get();
    }
    if (p.cluster) {
      cluster::ApicLink* link = &p.cluster->apic_link();
      slot->lapic->SetAddressingListener([link](const irq::ApicAddressing& a) { link->Announce(a); });
    }
    if (p.cluster && !p.device_node()) {
      // Node 0's CPUs keep the guest's time; see Lapic::SetHaltedTickLimit.
      TimerLoop* timers = &p.timers;
      slot->lapic->SetHaltedTickLimit(uint64_t{p.spec.halted_tick_limit_ms} * 1'000'000, [timers] { timers->Poke(); });
    }
    slot->io = std::make_unique<VcpuIoRouter>(slot->lapic.get(), &p.timers, devices);
    slot->runner = std::make_unique<vcpu::Runner>(id, bsp, &*slot->backend, slot->lapic.get(),
                                                  bsp ? &p.pic : nullptr, slot->io.get(), on_end);
    vcpu::Runner* runner = slot->runner.get();
    slot->lapic->SetKick([runner] { runner->Wake(); });
    irq::Lapic* lapic = slot->lapic.get();
    p.timers.Add({[lapic] { return lapic->NextDeadlineNs(); }, [lapic] { lapic->Tick(); }});
    p.vcpus.push_back(std::move(slot));
  }
  if (p.device_node()) {
    // The PIC's INTR pin reaches the bootstrap processor (through LINT0),
    // which the spec places on the device node.
    vcpu::Runner* bsp_runner = p.vcpus[0]->runner.get();
    p.pic.SetKick([bsp_runner] { bsp_runner->Wake(); });
  }
  return absl::OkStatus();
}

// Makes this node a member of the VM: the DSM takes over guest RAM, and what
// ends the VM elsewhere (a peer's end, a peer's death, a DSM failure) ends
// this node's machine too. Nothing is exchanged before ClusterNode::Start.
absl::Status JoinCluster(Machine::Parts& p, const MachineOptions& options, Machine* machine) {
  cluster::ClusterEvents events{
      .on_peer_end =
          [machine](const cluster::VmEnded& end) {
            auto reason = end.reason <= static_cast<uint8_t>(EndReason::kStopped) ? static_cast<EndReason>(end.reason)
                                                                                  : EndReason::kFailed;
            machine->EndAsPeerSaid(reason, end.exit_status, end.detail);
          },
      .on_failure = [machine](const std::string& detail) { machine->End(EndReason::kFailed, 1, detail); },
      // Asked only between ClusterNode::Start and Stop, while the vCPUs and
      // devices it reads exist (~Machine stops the cluster before they go).
      .local_stats = [machine] { return machine->StatsText(); },
  };
  ASSIGN_OR_RETURN(p.cluster, cluster::ClusterNode::Create(p.spec, p.self, &*p.memory, std::move(events),
                                                           {.connect_deadline_ms = options.connect_deadline_ms}));
  return absl::OkStatus();
}

// Every node's APIC bus starts out knowing the other nodes' vCPUs by their
// reset addressing (APIC ID = vCPU index); the nodes announce changes.
void SeedRemoteVcpus(Machine::Parts& p) {
  for (const spec::NodeSpec& node : p.spec.nodes) {
    if (node.id == p.self) continue;
    for (VcpuId v : node.vcpus) {
      p.apic_bus->UpdateRemoteVcpu(node.id, {.id = static_cast<uint8_t>(v.value())});
    }
  }
}

uint64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

// One guest, one clock: every node's KVM VM gets node 0's kvm-clock and its
// vCPUs node 0's TSC offset. On one host that makes them equal (the host TSC
// and CLOCK_REALTIME are shared); across hosts the kvm-clock is carried over
// by CLOCK_REALTIME, so it is as close as the hosts' NTP keeps them, and the
// TSCs are not aligned (the guest then prefers kvm-clock).
absl::Status SyncClock(Machine::Parts& p) {
  if (p.device_node()) {
    ASSIGN_OR_RETURN(kvm_clock_data clock, p.vm->GetClock());
    ASSIGN_OR_RETURN(int64_t tsc_offset, p.vcpus[0]->kvm_vcpu->GetTscOffset());
    const bool kvm_realtime = (clock.flags & KVM_CLOCK_REALTIME) != 0;
    p.cluster->SendClock({.kvmclock_ns = clock.clock,
                          .realtime_ns = kvm_realtime ? clock.realtime : RealtimeNs(),
                          .kvm_flags = clock.flags & KVM_CLOCK_REALTIME,
                          .tsc_offset = tsc_offset});
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(cluster::ClockSync sync, p.cluster->WaitForClock(std::chrono::seconds(30)));
  kvm_clock_data clock{};
  clock.clock = sync.kvmclock_ns;
  clock.realtime = sync.realtime_ns;
  clock.flags = sync.kvm_flags & KVM_CLOCK_REALTIME;
  if (clock.flags == 0) {
    // KVM cannot move the clock on by the time the message took: do it here.
    uint64_t now = RealtimeNs();
    if (now > sync.realtime_ns) clock.clock += now - sync.realtime_ns;
  }
  RETURN_IF_ERROR(Annotate(p.vm->SetClock(clock), "adopting node 0's kvm-clock"));
  for (auto& v : p.vcpus) {
    RETURN_IF_ERROR(Annotate(v->kvm_vcpu->SetTscOffset(sync.tsc_offset), "adopting node 0's TSC offset"));
  }
  return absl::OkStatus();
}

// Stops the vCPU threads, waiting at most `timeout`: a thread blocked in a
// fault on a page a dead node held never returns. True if all stopped.
bool StopVcpus(Machine::Parts& p, std::chrono::seconds timeout) {
  for (auto& v : p.vcpus) v->runner->RequestStop();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& v : p.vcpus) {
    while (v->runner->state() != vcpu::RunState::kExited && v->runner->state() != vcpu::RunState::kCreated) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  for (auto& v : p.vcpus) v->runner->Join();
  return true;
}

}  // namespace

Machine::Machine() : parts_(std::make_unique<Parts>(this)) {}

Machine::~Machine() {
  // Stop the threads before the parts they use are destroyed; the cluster
  // last, so that no message reaches a LAPIC or device that is gone.
  for (auto& v : parts_->vcpus) v->runner->RequestStop();
  for (auto& v : parts_->vcpus) v->runner->Join();
  parts_->timers.Stop();
  if (parts_->console_in) parts_->console_in->Stop();
  if (parts_->cluster) parts_->cluster->Stop();
}

absl::StatusOr<std::unique_ptr<Machine>> Machine::Create(const spec::VmSpec& spec, const MachineOptions& options) {
  std::unique_ptr<Machine> machine(new Machine());
  Parts& p = *machine->parts_;
  p.spec = spec;
  p.self = options.node;
  p.stop_timeout = options.stop_timeout;
  if (spec.FindNode(p.self) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("the config has no node ", p.self.value()));
  }
  const bool distributed = spec.nodes.size() > 1;
  ASSIGN_OR_RETURN(memory::GuestMemory memory, memory::GuestMemory::Create(spec.memory_bytes, "dvm-guest-ram"));
  p.memory.emplace(std::move(memory));
  boot::BootCpuState bsp_state;
  if (p.device_node()) {
    ASSIGN_OR_RETURN(bsp_state, LoadGuest(p));
  }
  ASSIGN_OR_RETURN(kvm::Kvm kvm, kvm::Kvm::Open(options.kvm_device));
  p.kvm.emplace(std::move(kvm));
  ASSIGN_OR_RETURN(kvm::Vm vm, p.kvm->CreateVm());
  p.vm.emplace(std::move(vm));
  RETURN_IF_ERROR(MapMemory(p));
  if (distributed) RETURN_IF_ERROR(JoinCluster(p, options, machine.get()));
  p.apic_bus.emplace(distributed ? &p.cluster->apic_link() : nullptr);
  if (distributed) {
    p.cluster->apic_link().Attach(&*p.apic_bus);
    SeedRemoteVcpus(p);
  }
  Machine* raw = machine.get();
  if (p.device_node()) {
    RETURN_IF_ERROR(BuildDevices(p, options, raw));
    RETURN_IF_ERROR(RegisterDevices(p));
    if (distributed) {
      p.cluster->apic_link().AttachIoapic(p.ioapic.get());
      p.cluster->ServeIo([&p](VcpuId, cluster::IoSpace space, uint64_t address, std::span<uint8_t> data,
                              bool is_write) {
        if (space == cluster::IoSpace::kPio) {
          p.devices->Pio(static_cast<uint16_t>(address), data, is_write);
        } else {
          p.devices->Mmio(Gpa(address), data, is_write);
        }
      });
    }
  }
  RETURN_IF_ERROR(BuildVcpus(p, [raw](const vcpu::VcpuEnd& end) {
    std::string who = absl::StrCat("vCPU ", end.vcpu.value(), ": ");
    switch (end.action) {
      case vcpu::ExitAction::kShutdown:
        raw->End(EndReason::kTripleFault, 1, who + end.detail + " (the guest reset; dvm does not reboot)");
        break;
      case vcpu::ExitAction::kSystemEvent:
        raw->End(EndReason::kReset, 1, who + "KVM system event: " + end.detail);
        break;
      default:
        raw->End(EndReason::kFailed, 1, who + end.detail);
    }
  }));
  if (p.device_node()) {
    RETURN_IF_ERROR(SetBootState(*p.vcpus[0]->kvm_vcpu, bsp_state));
    if (options.console_in_fd >= 0) {
      p.console_in = std::make_unique<ConsoleInput>(options.console_in_fd, p.serial.get());
    }
  }
  if (distributed) {
    // Everything that takes messages exists now: meet the other nodes.
    RETURN_IF_ERROR(p.cluster->Start());
    RETURN_IF_ERROR(SyncClock(p));
  }
  return machine;
}

bool Machine::RecordEnd(EndReason reason, int exit_status, std::string detail) {
  MutexLock lock(&mu_);
  if (end_) return false;  // the first ending wins
  end_ = MachineEnd{reason, exit_status, std::move(detail)};
  cv_.NotifyAll();
  return true;
}

void Machine::EndAsPeerSaid(EndReason reason, int exit_status, std::string detail) {
  RecordEnd(reason, exit_status, std::move(detail));
}

void Machine::End(EndReason reason, int exit_status, std::string detail) {
  const bool tell_peers = parts_->cluster != nullptr;
  std::string text = tell_peers ? absl::StrCat("node ", parts_->self.value(), ": ", detail) : detail;
  cluster::VmEnded message{.exit_status = exit_status, .reason = static_cast<uint8_t>(reason), .detail = text};
  if (RecordEnd(reason, exit_status, std::move(text)) && tell_peers) parts_->cluster->AnnounceEnd(message);
}

void Machine::Stop(const std::string& why) { End(EndReason::kStopped, 130, why); }

absl::Status Machine::PressPowerButton() {
  if (parts_->acpi_pm == nullptr) {
    return absl::FailedPreconditionError("only node 0, which holds the devices, has the power button");
  }
  parts_->acpi_pm->PressPowerButton();
  return absl::OkStatus();
}

MachineEnd Machine::Run() {
  Parts& p = *parts_;
  p.timers.Start();
  if (p.console_in) p.console_in->Start();
  for (auto& v : p.vcpus) v->runner->Start();
  MachineEnd end;
  {
    MutexLock lock(&mu_);
    cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return end_.has_value(); });
    end = *end_;
  }
  // After a node's death a vCPU waiting on a page the node held never
  // returns, so waiting long for it helps nobody.
  const std::chrono::seconds stop_timeout =
      p.cluster && end.reason == EndReason::kFailed ? std::chrono::seconds(2) : p.stop_timeout;
  if (!StopVcpus(p, stop_timeout)) {
    end.threads_stuck = true;
    absl::StrAppend(&end.detail, "; a vCPU did not stop within ", stop_timeout.count(),
                    " s (it waits on guest memory or I/O that another node held)");
    return end;
  }
  p.timers.Stop();
  if (p.console_in) p.console_in->Stop();
  if (p.cluster && !p.cluster->Leave(p.stop_timeout)) {
    absl::StrAppend(&end.detail, "; some node did not finish within ", p.stop_timeout.count(), " s");
  }
  return end;
}

std::string Machine::StatsText() const {
  std::string out;
  for (const auto& v : parts_->vcpus) {
    vcpu::RunnerStats s = v->runner->stats();
    absl::StrAppendFormat(&out,
                          "vCPU %u: %u exits (%u I/O, %u MMIO, %u HLT), %u interrupts injected, %u kicks (%u signals)\n",
                          v->runner->id().value(), s.exits, s.io_exits, s.mmio_exits, s.halts, s.injections, s.kicks,
                          s.signals);
  }
  const IoCounters& c = parts_->io_counters;
  absl::StrAppendFormat(&out, "unclaimed accesses: %u port (%s), %u MMIO (last %#x)\n", c.unclaimed_pio.load(),
                        c.TopUnclaimedPorts(4), c.unclaimed_mmio.load(), c.last_unclaimed_mmio.load());
  if (parts_->cluster) out += parts_->cluster->StatsText();
  return out;
}

std::string Machine::GatherStatsText(std::chrono::milliseconds timeout) {
  if (parts_->cluster) return parts_->cluster->GatherStats(timeout);
  return absl::StrCat("--- node ", parts_->self.value(), " ---\n", StatsText());  // as GatherStats shows it
}

}  // namespace dvm::machine
