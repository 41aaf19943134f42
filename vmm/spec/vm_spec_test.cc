#include "vmm/spec/vm_spec.h"

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vmm/spec/plan.h"

namespace dvm::spec {
namespace {

using ::testing::IsEmpty;
using ::testing::Not;

MATCHER_P2(HasError, field, text, "") {
  for (const SpecError& e : arg) {
    if (e.field == field && e.message.find(text) != std::string::npos) return true;
  }
  *result_listener << "errors:";
  for (const SpecError& e : arg) *result_listener << " [" << e.field << ": " << e.message << "]";
  return false;
}

class VmSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_ = ::testing::TempDir() + "/vm_spec_test_kernel";
    key_ = ::testing::TempDir() + "/vm_spec_test_key";
    WriteFile(kernel_, "kernel");
    WriteFile(key_, std::string(32, 'k'));
    spec_.name = "t";
    spec_.memory_bytes = 256 * kMiB;
    spec_.vcpu_count = 2;
    spec_.kernel = kernel_;
    spec_.cluster_key_file = key_;
    spec_.nodes = {{NodeId(0), {"127.0.0.1", 7000}, {VcpuId(0)}, {}},
                   {NodeId(1), {"127.0.0.1", 7001}, {VcpuId(1)}, {}}};
  }
  static void WriteFile(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  std::vector<SpecError> Check() { return Validate(spec_, HostLimits{16 * kGiB}); }

  std::string kernel_, key_;
  VmSpec spec_;
};

TEST_F(VmSpecTest, ValidSpecPasses) { EXPECT_THAT(Check(), IsEmpty()); }

TEST_F(VmSpecTest, NamesAreSafeFileNames) {
  for (const std::string& ok : std::vector<std::string>{"a", "vm-1.test_2", "a..b", std::string(64, 'x')}) {
    spec_.name = ok;
    EXPECT_THAT(Check(), IsEmpty()) << ok;
  }
  // A leading '.' would be a hidden file, "."/"..", or one of dvmd's temporary
  // files, which its store skips or deletes at start-up.
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", ".x", ".tmp-foo", "a/b", "a b", std::string(65, 'x')}) {
    spec_.name = bad;
    EXPECT_THAT(Check(), Not(IsEmpty())) << bad;
  }
}

TEST_F(VmSpecTest, FindsNodeOfVcpu) {
  EXPECT_EQ(spec_.NodeOfVcpu(VcpuId(1)), NodeId(1));
  EXPECT_EQ(spec_.NodeOfVcpu(VcpuId(5)), std::nullopt);
  EXPECT_EQ(spec_.FindNode(NodeId(1))->address.port, 7001);
  EXPECT_EQ(spec_.FindNode(NodeId(2)), nullptr);
}

TEST_F(VmSpecTest, BootstrapProcessorIsOnTheDeviceNode) {
  spec_.nodes[0].vcpus = {VcpuId(1)};
  spec_.nodes[1].vcpus = {VcpuId(0)};
  EXPECT_THAT(Check(), HasError("node[1].vcpus", "vCPU 0 (the bootstrap processor) must be on node 0"));
}

TEST_F(VmSpecTest, RangeHomesMustTileMemory) {
  spec_.dsm.home = HomePolicy::kRange;
  spec_.dsm.ranges = {{Gpa(0), 128 * kMiB, NodeId(0)}, {Gpa(128 * kMiB), 128 * kMiB, NodeId(1)}};
  EXPECT_THAT(Check(), IsEmpty());
  spec_.dsm.ranges[1].size = 64 * kMiB;
  EXPECT_THAT(Check(), HasError("dsm.range", "ranges cover 192 MiB but vm.memory is 256 MiB"));
  spec_.dsm.ranges[1] = {Gpa(64 * kMiB), 192 * kMiB, NodeId(1)};
  EXPECT_THAT(Check(), HasError("dsm.range at 0x4000000", "overlaps"));
  spec_.dsm.ranges[1] = {Gpa(128 * kMiB), 128 * kMiB, NodeId(9)};
  EXPECT_THAT(Check(), HasError("dsm.range at 0x8000000", "node 9 does not exist"));
}

TEST_F(VmSpecTest, NumaIsTheDefaultWithOneSlicePerNode) {
  EXPECT_EQ(spec_.dsm.home, HomePolicy::kNuma);
  spec_.memory_bytes = 1026 * kMiB;  // 513 units of 2 MiB over 3 nodes
  spec_.vcpu_count = 3;
  spec_.nodes.push_back({NodeId(2), {"127.0.0.1", 7002}, {VcpuId(2)}, {}});
  EXPECT_THAT(Check(), IsEmpty());
  std::vector<HomeRange> slices = NumaSlices(spec_);
  ASSERT_EQ(slices.size(), 3u);
  EXPECT_EQ(slices[0].start, Gpa(0));
  EXPECT_EQ(slices[0].size, 342 * kMiB);
  EXPECT_EQ(slices[1].start, Gpa(342 * kMiB));
  EXPECT_EQ(slices[1].node, NodeId(1));
  EXPECT_EQ(slices[2].start, Gpa(684 * kMiB));
  EXPECT_EQ(slices[2].size, 342 * kMiB);
  spec_.dsm.home = HomePolicy::kInterleave;
  EXPECT_THAT(NumaSlices(spec_), IsEmpty());
}

TEST_F(VmSpecTest, NumaSlicesNeedRoom) {
  spec_.memory_bytes = 64 * kMiB;
  for (uint32_t i = 2; i < 8; ++i) spec_.nodes.push_back({NodeId(i), {"127.0.0.1", static_cast<uint16_t>(7000 + i)}, {VcpuId(i)}, {}});
  spec_.vcpu_count = 8;
  EXPECT_THAT(Check(), HasError("dsm.home", "less than the 16 MiB a node needs"));
  spec_.dsm.home = HomePolicy::kInterleave;
  EXPECT_THAT(Check(), IsEmpty());
}

TEST_F(VmSpecTest, HomePolicyNames) {
  for (HomePolicy p : {HomePolicy::kNuma, HomePolicy::kInterleave, HomePolicy::kRange}) {
    EXPECT_EQ(ParseHomePolicy(HomePolicyName(p)), p);
  }
  EXPECT_EQ(ParseHomePolicy("nearest"), std::nullopt);
}

TEST_F(VmSpecTest, InterleaveGranuleIsPowerOfTwoPages) {
  spec_.dsm.interleave_bytes = 3 * kPageSize;
  EXPECT_THAT(Check(), HasError("dsm.interleave", "power of two"));
}

TEST_F(VmSpecTest, MacAndTapChecked) {
  spec_.devices.nets = {{"tap0", "53:54:00:12:34:56"}, {"a-name-longer-than-15", ""}};
  EXPECT_THAT(Check(), HasError("devices.net[0].mac", "not a unicast MAC"));
  EXPECT_THAT(Check(), HasError("devices.net[1].tap", "1-15 characters"));
}

TEST_F(VmSpecTest, MissingDiskReported) {
  spec_.devices.disks = {{"/nonexistent/disk.img", false}};
  EXPECT_THAT(Check(), HasError("devices.disk[0].path", "cannot find"));
}

TEST_F(VmSpecTest, CmdlineLimit) {
  spec_.cmdline = std::string(3000, 'x');
  EXPECT_THAT(Check(), HasError("vm.cmdline", "limit is 2047"));
}

TEST(HostTest, ValidHosts) {
  EXPECT_TRUE(IsValidHost("127.0.0.1"));
  EXPECT_TRUE(IsValidHost("::1"));
  EXPECT_TRUE(IsValidHost("node-1.cluster.example"));
  EXPECT_FALSE(IsValidHost(""));
  EXPECT_FALSE(IsValidHost("300.1.1.1"));
  EXPECT_FALSE(IsValidHost("-bad"));
  EXPECT_FALSE(IsValidHost("a..b"));
  EXPECT_FALSE(IsValidHost("sp ace"));
}

TEST(PlanTest, VcpuListRuns) {
  EXPECT_EQ(FormatVcpuList({VcpuId(0), VcpuId(1), VcpuId(2), VcpuId(5)}), "0-2, 5");
  EXPECT_EQ(FormatVcpuList({}), "none");
}

TEST(PlanTest, InterleaveSplitsEvenly) {
  VmSpec spec;
  spec.memory_bytes = 10 * kPageSize;
  spec.dsm.home = HomePolicy::kInterleave;
  spec.nodes.resize(3);
  std::vector<uint64_t> bytes = HomeBytesPerNode(spec);
  EXPECT_EQ(bytes, (std::vector<uint64_t>{4 * kPageSize, 3 * kPageSize, 3 * kPageSize}));
}

}  // namespace
}  // namespace dvm::spec
