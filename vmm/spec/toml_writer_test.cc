#include "vmm/spec/toml_writer.h"

#include <cstdio>

#include "gtest/gtest.h"
#include "vmm/spec/toml_config.h"

namespace dvm::spec {
namespace {

std::string MakeFile(const std::string& dir, const std::string& name, size_t bytes) {
  std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "w");
  for (size_t i = 0; i < bytes; ++i) std::fputc('k', f);
  std::fclose(f);
  return path;
}

// Writes `spec`, parses the text back and expects the same spec.
void ExpectRoundTrip(const VmSpec& spec) {
  const std::string text = WriteTomlConfig(spec);
  ConfigResult r = ParseConfig(text, "written.toml", "/", HostLimits{64 * kGiB});
  ASSERT_TRUE(r.spec.has_value()) << (r.errors.empty() ? "" : r.errors[0].ToString()) << "\n" << text;
  const VmSpec& back = *r.spec;
  EXPECT_EQ(back.name, spec.name);
  EXPECT_EQ(back.memory_bytes, spec.memory_bytes);
  EXPECT_EQ(back.vcpu_count, spec.vcpu_count);
  EXPECT_EQ(back.kernel, spec.kernel);
  EXPECT_EQ(back.initrd, spec.initrd);
  EXPECT_EQ(back.cmdline, spec.cmdline);
  EXPECT_EQ(back.cluster_key_file, spec.cluster_key_file);
  EXPECT_EQ(back.halted_tick_limit_ms, spec.halted_tick_limit_ms);
  EXPECT_EQ(back.dsm.transport, spec.dsm.transport);
  EXPECT_EQ(back.dsm.home, spec.dsm.home);
  EXPECT_EQ(back.dsm.interleave_bytes, spec.dsm.interleave_bytes);
  ASSERT_EQ(back.dsm.ranges.size(), spec.dsm.ranges.size());
  for (size_t i = 0; i < spec.dsm.ranges.size(); ++i) {
    EXPECT_EQ(back.dsm.ranges[i].start, spec.dsm.ranges[i].start);
    EXPECT_EQ(back.dsm.ranges[i].size, spec.dsm.ranges[i].size);
    EXPECT_EQ(back.dsm.ranges[i].node, spec.dsm.ranges[i].node);
  }
  ASSERT_EQ(back.nodes.size(), spec.nodes.size());
  for (size_t i = 0; i < spec.nodes.size(); ++i) {
    EXPECT_EQ(back.nodes[i].id, spec.nodes[i].id);
    EXPECT_EQ(back.nodes[i].address.host, spec.nodes[i].address.host);
    EXPECT_EQ(back.nodes[i].address.port, spec.nodes[i].address.port);
    EXPECT_EQ(back.nodes[i].vcpus, spec.nodes[i].vcpus);
    EXPECT_EQ(back.nodes[i].dpdk_args, spec.nodes[i].dpdk_args);
  }
  EXPECT_EQ(back.devices.serial.kind, spec.devices.serial.kind);
  EXPECT_EQ(back.devices.serial.path, spec.devices.serial.path);
  ASSERT_EQ(back.devices.disks.size(), spec.devices.disks.size());
  for (size_t i = 0; i < spec.devices.disks.size(); ++i) {
    EXPECT_EQ(back.devices.disks[i].path, spec.devices.disks[i].path);
    EXPECT_EQ(back.devices.disks[i].read_only, spec.devices.disks[i].read_only);
  }
  ASSERT_EQ(back.devices.nets.size(), spec.devices.nets.size());
  for (size_t i = 0; i < spec.devices.nets.size(); ++i) {
    EXPECT_EQ(back.devices.nets[i].tap, spec.devices.nets[i].tap);
    EXPECT_EQ(back.devices.nets[i].mac, spec.devices.nets[i].mac);
  }
}

class TomlWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dvm-toml-writer.XXXXXX";
    dir_ = mkdtemp(tmpl);
    kernel_ = MakeFile(dir_, "vmlinuz", 1);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
  std::string kernel_;
};

TEST_F(TomlWriterTest, SingleNodeRoundTrips) {
  VmSpec s;
  s.name = "one";
  s.memory_bytes = 512 * kMiB;
  s.vcpu_count = 2;
  s.kernel = kernel_;
  s.cmdline = "console=ttyS0 quiet \"quoted\" back\\slash tab\t";
  s.nodes.push_back({NodeId(0), {"127.0.0.1", 7100}, {VcpuId(0), VcpuId(1)}, {}});
  ExpectRoundTrip(s);
}

TEST_F(TomlWriterTest, EverythingRoundTrips) {
  VmSpec s;
  s.name = "all_of-it.1";
  s.memory_bytes = 2 * kGiB;
  s.vcpu_count = 4;
  s.kernel = kernel_;
  s.initrd = MakeFile(dir_, "initrd with space", 1);
  s.cmdline = "";
  s.cluster_key_file = MakeFile(dir_, "key", 32);
  s.halted_tick_limit_ms = 0;
  s.dsm.transport = TransportKind::kDpdk;
  s.dsm.home = HomePolicy::kRange;
  s.dsm.ranges = {{Gpa(0), kGiB, NodeId(0)}, {Gpa(kGiB), kGiB, NodeId(1)}};
  s.nodes.push_back({NodeId(0), {"10.0.0.1", 7100}, {VcpuId(0), VcpuId(2)}, {"--vdev=net_memif0", "-l", "0"}});
  s.nodes.push_back({NodeId(1), {"fd00::2", 7101}, {VcpuId(1), VcpuId(3)}, {"--vdev=net_memif1"}});
  s.devices.serial = {SerialKind::kFile, dir_ + "/console.log"};
  s.devices.disks.push_back({MakeFile(dir_, "disk.img", 4096), true});
  s.devices.disks.push_back({MakeFile(dir_, "data.img", 4096), false});
  s.devices.nets.push_back({"tap0", "52:54:00:12:34:56"});
  s.devices.nets.push_back({"tap1", ""});
  ExpectRoundTrip(s);
  s.devices.serial = {SerialKind::kNone, ""};
  ExpectRoundTrip(s);
}

TEST(TomlString, EscapesWhatTomlNeeds) {
  EXPECT_EQ(TomlString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\u000a\\u0001\"");
}

}  // namespace
}  // namespace dvm::spec
