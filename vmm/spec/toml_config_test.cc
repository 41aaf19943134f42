#include "vmm/spec/toml_config.h"

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dvm::spec {
namespace {

using ::testing::HasSubstr;

class TomlConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir();
    if (dir_.ends_with('/')) dir_.pop_back();
    FILE* f = std::fopen((dir_ + "/vmlinuz").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("k", f);
    std::fclose(f);
  }
  ConfigResult Parse(const std::string& text) {
    return ParseConfig(text, "test.toml", dir_, HostLimits{16 * kGiB});
  }
  std::string FirstError(const std::string& text) {
    ConfigResult r = Parse(text);
    return r.errors.empty() ? "(no error)" : r.errors[0].ToString();
  }
  std::string AllErrors(const std::string& text) {
    std::string out;
    for (const ConfigError& e : Parse(text).errors) out += e.ToString() + "\n";
    return out;
  }
  std::string dir_;
};

constexpr char kMinimal[] = R"(
[vm]
name = "demo"
memory = "512M"
vcpus = 2
kernel = "vmlinuz"

[[node]]
id = 0
vcpu_count = 2
)";

TEST_F(TomlConfigTest, MinimalConfigGetsDefaults) {
  ConfigResult r = Parse(kMinimal);
  ASSERT_TRUE(r.spec) << r.errors[0].ToString();
  const VmSpec& spec = *r.spec;
  EXPECT_EQ(spec.name, "demo");
  EXPECT_EQ(spec.memory_bytes, 512 * kMiB);
  EXPECT_EQ(spec.kernel, dir_ + "/vmlinuz");  // relative to the config's folder
  EXPECT_EQ(spec.cmdline, "console=ttyS0 pci=off");
  EXPECT_EQ(spec.dsm.transport, TransportKind::kTcp);
  EXPECT_EQ(spec.dsm.home, HomePolicy::kNuma);
  ASSERT_EQ(spec.nodes.size(), 1u);
  EXPECT_EQ(spec.nodes[0].vcpus, (std::vector<VcpuId>{VcpuId(0), VcpuId(1)}));
  EXPECT_EQ(spec.nodes[0].address.host, "127.0.0.1");
  EXPECT_EQ(spec.devices.serial.kind, SerialKind::kStdio);
}

TEST_F(TomlConfigTest, VcpuCountFillsAroundExplicitLists) {
  std::string key = dir_ + "/key";
  FILE* f = std::fopen(key.c_str(), "w");
  std::fputs("0123456789abcdef0123456789abcdef", f);
  std::fclose(f);
  ConfigResult r = Parse(R"(
[vm]
name = "demo"
memory = "1G"
vcpus = 4
kernel = "vmlinuz"
[cluster]
key_file = "key"
[[node]]
id = 0
address = "10.0.0.1:7000"
vcpu_count = 2
[[node]]
id = 1
address = "[fd00::2]:7000"
vcpus = [1, 3]
)");
  ASSERT_TRUE(r.spec) << r.errors[0].ToString();
  EXPECT_EQ(r.spec->nodes[0].vcpus, (std::vector<VcpuId>{VcpuId(0), VcpuId(2)}));
  EXPECT_EQ(r.spec->nodes[1].address.host, "fd00::2");
  EXPECT_EQ(r.spec->nodes[1].address.port, 7000);
}

TEST_F(TomlConfigTest, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(FirstError("[vm]\nname = 3\n"), "test.toml:2: vm.name: expected a string, got an integer");
  EXPECT_THAT(FirstError("[vm]\nname = \"x\"\nmemory = \"1G\"\nvcpus = 1\nkernel = \"vmlinuz\"\n"
                         "[[node]]\nid = 0\nvcpus = [0]\nbogus = 1\n"),
              HasSubstr("test.toml:9: node[0].bogus: unknown key"));
}

TEST_F(TomlConfigTest, SyntaxErrorHasLine) {
  std::string err = FirstError("[vm]\nname = \"x\"\nmemory = \n");
  EXPECT_THAT(err, HasSubstr("test.toml:3: syntax error"));
}

TEST_F(TomlConfigTest, HostileInputIsAnErrorNotACrash) {
  EXPECT_THAT(FirstError(std::string(100, '[')), HasSubstr("nest deeper"));
  EXPECT_THAT(FirstError(std::string(2 << 20, '#')), HasSubstr("at most 1 MiB"));
  EXPECT_THAT(FirstError("vm = 5"), HasSubstr("vm: expected a table, got an integer"));
  EXPECT_THAT(AllErrors("node = 5\n[vm]\n"), HasSubstr("expected [[node]] tables"));
  EXPECT_EQ(FirstError("[vm]\nname = '\xff\xfe'\n"),
            "test.toml:2: the file is not valid UTF-8 (TOML requires it)");
  EXPECT_THAT(FirstError("a = '\xc0\x80'"), HasSubstr("not valid UTF-8"));      // overlong
  EXPECT_THAT(FirstError("a = '\xed\xa0\x80'"), HasSubstr("not valid UTF-8"));  // surrogate
  EXPECT_THAT(FirstError("a = '\xe2\x82"), HasSubstr("not valid UTF-8"));        // truncated
  EXPECT_THAT(FirstError("[vm]\nname = 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'\n"),
              HasSubstr("vm.memory: is required"));  // valid UTF-8 gets past the check
}

TEST(ParseSizeTest, Units) {
  EXPECT_EQ(ParseSize("512M"), 512 * kMiB);
  EXPECT_EQ(ParseSize("2GiB"), 2 * kGiB);
  EXPECT_EQ(ParseSize("4K"), 4 * kKiB);
  EXPECT_EQ(ParseSize("4096"), 4096u);
  EXPECT_EQ(ParseSize("0x100000"), 0x100000u);
  EXPECT_EQ(ParseSize(" 1 G "), kGiB);
  EXPECT_EQ(ParseSize("1.5G"), std::nullopt);
  EXPECT_EQ(ParseSize("G"), std::nullopt);
  EXPECT_EQ(ParseSize("0x10M"), std::nullopt);
  EXPECT_EQ(ParseSize("99999999999999999999"), std::nullopt);
  EXPECT_EQ(ParseSize("16777216T"), std::nullopt);  // overflows 64 bits
}

TEST(ParseAddressTest, Forms) {
  auto a = ParseAddress("127.0.0.1:7100");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7100);
  EXPECT_TRUE(ParseAddress("[::1]:1"));
  EXPECT_TRUE(ParseAddress("node1.example:65535"));
  EXPECT_FALSE(ParseAddress("::1:7000"));
  EXPECT_FALSE(ParseAddress("host:0"));
  EXPECT_FALSE(ParseAddress("host:65536"));
  EXPECT_FALSE(ParseAddress("host:"));
  EXPECT_FALSE(ParseAddress("host:12x"));
  EXPECT_FALSE(ParseAddress("[::1]7000"));
}

}  // namespace
}  // namespace dvm::spec
