#include "vmm/vcpu/exit_handler.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace dvm::vcpu {
namespace {

struct Access {
  bool pio;
  uint64_t address;
  std::vector<uint8_t> data;
  bool is_write;
};

class RecordingIo final : public VcpuIo {
 public:
  void Pio(uint16_t port, std::span<uint8_t> data, bool is_write) override {
    if (!is_write) std::memset(data.data(), 0xab, data.size());
    accesses.push_back({true, port, {data.begin(), data.end()}, is_write});
  }
  void Mmio(Gpa address, std::span<uint8_t> data, bool is_write) override {
    if (!is_write) std::memset(data.data(), 0xcd, data.size());
    accesses.push_back({false, address.value(), {data.begin(), data.end()}, is_write});
  }
  std::vector<Access> accesses;
};

// A kvm_run page with room for I/O data after it, as KVM maps it.
struct RunPage {
  RunPage() { std::memset(bytes, 0, sizeof bytes); }
  kvm_run& run() { return *reinterpret_cast<kvm_run*>(bytes); }
  alignas(kvm_run) uint8_t bytes[8192];
};

TEST(ExitHandlerTest, PortWrite) {
  RunPage page;
  kvm_run& run = page.run();
  run.exit_reason = KVM_EXIT_IO;
  run.io = {.direction = KVM_EXIT_IO_OUT, .size = 1, .port = 0x3f8, .count = 1, .data_offset = 4096};
  page.bytes[4096] = 'A';
  RecordingIo io;
  EXPECT_EQ(HandleExit(run, sizeof page.bytes, io).action, ExitAction::kContinue);
  ASSERT_EQ(io.accesses.size(), 1u);
  EXPECT_TRUE(io.accesses[0].pio && io.accesses[0].is_write);
  EXPECT_EQ(io.accesses[0].address, 0x3f8u);
  EXPECT_EQ(io.accesses[0].data, std::vector<uint8_t>{'A'});
}

TEST(ExitHandlerTest, StringPortReadFillsEveryElement) {
  RunPage page;
  kvm_run& run = page.run();
  run.exit_reason = KVM_EXIT_IO;
  run.io = {.direction = KVM_EXIT_IO_IN, .size = 2, .port = 0x1f0, .count = 3, .data_offset = 4096};
  RecordingIo io;
  EXPECT_EQ(HandleExit(run, sizeof page.bytes, io).action, ExitAction::kContinue);
  EXPECT_EQ(io.accesses.size(), 3u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(page.bytes[4096 + i], 0xab);
  EXPECT_EQ(page.bytes[4096 + 6], 0);
}

TEST(ExitHandlerTest, MalformedIoIsRefusedNotFollowed) {
  RunPage page;
  kvm_run& run = page.run();
  run.exit_reason = KVM_EXIT_IO;
  RecordingIo io;
  run.io = {.direction = KVM_EXIT_IO_OUT, .size = 4, .port = 1, .count = 2000, .data_offset = 4096};
  EXPECT_EQ(HandleExit(run, sizeof page.bytes, io).action, ExitAction::kFailed);
  run.io = {.direction = KVM_EXIT_IO_OUT, .size = 3, .port = 1, .count = 1, .data_offset = 4096};
  EXPECT_EQ(HandleExit(run, sizeof page.bytes, io).action, ExitAction::kFailed);
  run.io = {.direction = KVM_EXIT_IO_OUT, .size = 1, .port = 1, .count = 1, .data_offset = 1u << 20};
  EXPECT_EQ(HandleExit(run, sizeof page.bytes, io).action, ExitAction::kFailed);
  EXPECT_TRUE(io.accesses.empty());
}

TEST(ExitHandlerTest, MmioReadAndWrite) {
  RunPage page;
  kvm_run& run = page.run();
  run.exit_reason = KVM_EXIT_MMIO;
  run.mmio.phys_addr = 0xfee000b0;
  run.mmio.len = 4;
  run.mmio.is_write = 1;
  std::memcpy(run.mmio.data, "\x01\x02\x03\x04", 4);
  RecordingIo io;
  EXPECT_EQ(HandleExit(run, sizeof page.bytes, io).action, ExitAction::kContinue);
  EXPECT_EQ(io.accesses[0].address, 0xfee000b0u);
  EXPECT_EQ(io.accesses[0].data, (std::vector<uint8_t>{1, 2, 3, 4}));
  run.mmio.is_write = 0;
  run.mmio.len = 8;
  EXPECT_EQ(HandleExit(run, sizeof page.bytes, io).action, ExitAction::kContinue);
  EXPECT_EQ(run.mmio.data[7], 0xcd);
  run.mmio.len = 9;
  EXPECT_EQ(HandleExit(run, sizeof page.bytes, io).action, ExitAction::kFailed);
}

TEST(ExitHandlerTest, OtherExits) {
  RunPage page;
  kvm_run& run = page.run();
  RecordingIo io;
  auto action = [&](uint32_t reason) {
    run.exit_reason = reason;
    return HandleExit(run, sizeof page.bytes, io);
  };
  EXPECT_EQ(action(KVM_EXIT_HLT).action, ExitAction::kHalt);
  EXPECT_EQ(action(KVM_EXIT_IRQ_WINDOW_OPEN).action, ExitAction::kInterruptWindow);
  EXPECT_EQ(action(KVM_EXIT_INTR).action, ExitAction::kInterrupted);
  EXPECT_EQ(action(KVM_EXIT_SHUTDOWN).action, ExitAction::kShutdown);
  run.system_event.type = KVM_SYSTEM_EVENT_RESET;
  ExitResult event = action(KVM_EXIT_SYSTEM_EVENT);
  EXPECT_EQ(event.action, ExitAction::kSystemEvent);
  EXPECT_EQ(event.detail, "reset");
  run.fail_entry.hardware_entry_failure_reason = 0x80000021;
  ExitResult failed = action(KVM_EXIT_FAIL_ENTRY);
  EXPECT_EQ(failed.action, ExitAction::kFailed);
  EXPECT_NE(failed.detail.find("0x80000021"), std::string::npos);
  ExitResult unknown = action(KVM_EXIT_DEBUG);
  EXPECT_EQ(unknown.action, ExitAction::kFailed);
  EXPECT_NE(unknown.detail.find("KVM_EXIT_DEBUG"), std::string::npos);
}

}  // namespace
}  // namespace dvm::vcpu
