#include "libvirt/domain_xml.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libvirt/test_util.h"
#include "libvirt/vir_error.h"

namespace dvm::libvirt {
namespace {

using ::testing::HasSubstr;
using testing::DomainXml;
using testing::ScratchDir;

class DomainXmlTest : public ::testing::Test {
 protected:
  absl::StatusOr<DomainDef> Parse(const std::string& xml) { return ParseDomainXml(xml, spec::HostLimits{64 * kGiB}); }
  // The error's code and message, for a document that must fail.
  std::pair<ErrorCode, std::string> Fail(const std::string& xml) {
    auto r = Parse(xml);
    EXPECT_FALSE(r.ok()) << xml;
    return {VirCodeOf(r.status()), std::string(r.status().message())};
  }
  ScratchDir dir_;
};

TEST_F(DomainXmlTest, MinimalDomainIsOneNodeWithEveryVcpu) {
  auto def = Parse(DomainXml("vm1", dir_.kernel(), 3));
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ(def->spec.name, "vm1");
  EXPECT_EQ(def->spec.memory_bytes, 256 * kMiB);
  EXPECT_EQ(def->spec.vcpu_count, 3u);
  EXPECT_EQ(def->spec.kernel, dir_.kernel());
  EXPECT_EQ(def->spec.cmdline, "console=ttyS0 pci=off");
  ASSERT_EQ(def->spec.nodes.size(), 1u);
  EXPECT_EQ(def->spec.nodes[0].vcpus.size(), 3u);
  EXPECT_EQ(def->spec.devices.serial.kind, spec::SerialKind::kStdio);
  EXPECT_NE(def->uuid, Uuid{}) << "a uuid is generated";
  EXPECT_NE(Parse(DomainXml("vm1", dir_.kernel()))->uuid, def->uuid);
}

TEST_F(DomainXmlTest, DumpedXmlIsAcceptedUnchanged) {
  const std::string key = dir_.path() + "/cluster.key";
  FILE* f = std::fopen(key.c_str(), "w");
  std::fputs("0123456789abcdef0123456789abcdef", f);
  std::fclose(f);
  const std::string xml = absl::StrCat(
      "<domain type='kvm' xmlns:lo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>"
      "<name>big</name><uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid><title>T &amp; t</title>"
      "<description>d</description><memory unit='GiB'>1</memory><currentMemory unit='GiB'>1</currentMemory>"
      "<vcpu placement='static'>4</vcpu>"
      "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>", dir_.kernel(), "</kernel><initrd>", dir_.kernel(),
      "</initrd><cmdline>console=ttyS0 quiet</cmdline><boot dev='hd'/></os>"
      "<features><acpi/><apic/></features><clock offset='utc'/>"
      "<metadata><lo:libosinfo><lo:os id='http://libosinfo.org/linux/2022'/></lo:libosinfo>"
      "<dvm:cluster xmlns:dvm='urn:dvm:cluster:1' key_file='", key, "'>"
      "<dvm:home policy='interleave' interleave='64K'/>"
      "<dvm:node id='1' address='10.0.0.2:7101' vcpu_count='2'/>"
      "<dvm:node id='0' address='10.0.0.1:7100' vcpus='0,1'/></dvm:cluster></metadata>"
      "<devices><emulator>/usr/bin/dvm</emulator><disk type='file' device='disk'><source file='", dir_.kernel(),
      "'/><target dev='vda' bus='virtio'/><readonly/></disk>"
      "<interface type='ethernet'><mac address='52:54:00:AA:BB:CC'/><target dev='tap7'/></interface>"
      "<serial type='file'><source path='/tmp/console.log'/></serial><console type='pty'/></devices></domain>");
  auto def = Parse(xml);
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ(def->title, "T & t");
  ASSERT_EQ(def->spec.nodes.size(), 2u);
  EXPECT_EQ(def->spec.nodes[0].id.value(), 0u);
  EXPECT_EQ(def->spec.nodes[1].vcpus, (std::vector<VcpuId>{VcpuId(2), VcpuId(3)}));
  EXPECT_EQ(def->spec.dsm.interleave_bytes, 64 * kKiB);
  EXPECT_EQ(def->spec.cluster_key_file, key);
  ASSERT_EQ(def->spec.devices.disks.size(), 1u);
  EXPECT_TRUE(def->spec.devices.disks[0].read_only);
  ASSERT_EQ(def->spec.devices.nets.size(), 1u);
  EXPECT_EQ(def->spec.devices.nets[0].mac, "52:54:00:aa:bb:cc");
  EXPECT_EQ(def->spec.devices.serial.kind, spec::SerialKind::kFile);
  ASSERT_EQ(def->foreign_metadata.size(), 1u);
  EXPECT_THAT(def->foreign_metadata[0], HasSubstr("xmlns:lo=\"http://libosinfo.org/xmlns/libvirt/domain/1.0\""));

  const std::string dumped = FormatDomainXml(*def);
  auto again = Parse(dumped);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << dumped;
  EXPECT_EQ(FormatDomainXml(*again), dumped) << "stable after one round";
  EXPECT_EQ(again->uuid, def->uuid);
  EXPECT_THAT(dumped, HasSubstr("<dvm:node id='1' address='10.0.0.2:7101' vcpus='2-3'/>"));
  EXPECT_THAT(dumped, HasSubstr("<lo:os id=\"http://libosinfo.org/linux/2022\"/>"));
}

TEST_F(DomainXmlTest, BadXmlIsAnXmlError) {
  EXPECT_EQ(Fail("<domain type='kvm'><name>x</nam></domain>").first, ErrorCode::kXmlError);
  EXPECT_EQ(Fail("").first, ErrorCode::kXmlError);
  EXPECT_EQ(Fail("<network/>").first, ErrorCode::kXmlError);
  EXPECT_THAT(Fail("<!DOCTYPE d [<!ENTITY a 'aaaa'>]><domain type='kvm'/>").second, HasSubstr("entities"));
  EXPECT_THAT(Fail(absl::StrCat("<domain type='kvm'><memory>1</memory><os><type>hvm</type><kernel>", dir_.kernel(), "</kernel></os></domain>")).second,
              HasSubstr("<name> is required"));
  EXPECT_THAT(Fail(DomainXml("x", dir_.kernel(), 2, "<uuid>nope</uuid>")).second, HasSubstr("is not a UUID"));
  EXPECT_THAT(Fail(DomainXml("x", "relative/vmlinuz")).second, HasSubstr("must be an absolute path"));
  EXPECT_THAT(Fail(DomainXml("x", dir_.kernel(), 2, "<name>y</name>")).second, HasSubstr("<name> appears twice"));
}

TEST_F(DomainXmlTest, WhatDvmCannotDoIsUnsupportedWithTheReason) {
  auto [code, message] = Fail("<domain type='qemu'><name>x</name></domain>");
  EXPECT_EQ(code, ErrorCode::kConfigUnsupported);
  EXPECT_THAT(message, HasSubstr("KVM guests only"));
  EXPECT_THAT(Fail(DomainXml("x", dir_.kernel(), 2, "<devices><graphics type='vnc'/></devices>")).second,
              HasSubstr("no display"));
  EXPECT_THAT(Fail(DomainXml("x", dir_.kernel(), 2, "<devices><interface type='network'/></devices>")).second,
              HasSubstr("existing tap device"));
  EXPECT_THAT(Fail("<domain type='kvm'><name>x</name><memory>262144</memory><os><type>hvm</type>"
                   "<loader>/usr/share/OVMF.fd</loader></os></domain>")
                  .second,
              HasSubstr("no firmware"));
  EXPECT_THAT(Fail(DomainXml("x", dir_.kernel(), 2, "<hugetlb/>")).second, HasSubstr("<hugetlb> is not supported"));
}

TEST_F(DomainXmlTest, PlacementProblemsComeFromValidateNamedTheXmlWay) {
  auto [code, message] = Fail(DomainXml(
      "x", dir_.kernel(), 4,
      "<metadata><dvm:cluster xmlns:dvm='urn:dvm:cluster:1' key_file='/nonexistent/key'>"
      "<dvm:node id='0' address='127.0.0.1:7100' vcpus='0-2'/>"
      "<dvm:node id='1' address='127.0.0.1:7101' vcpus='2'/></dvm:cluster></metadata>"));
  EXPECT_EQ(code, ErrorCode::kConfigUnsupported);
  EXPECT_THAT(message, HasSubstr("<dvm:node> 1].vcpus: vCPU 2 is placed on two nodes"));
  EXPECT_THAT(message, HasSubstr("vCPU 3 is not placed on any node"));
  EXPECT_THAT(message, HasSubstr("<dvm:cluster key_file>: cannot find '/nonexistent/key'"));
  EXPECT_THAT(Fail(absl::StrCat("<domain type='kvm'><name>x</name><memory unit='MiB'>32</memory><os><type>hvm</type>"
                                "<kernel>/nonexistent/k</kernel></os></domain>"))
                  .second,
              HasSubstr("<memory>: must be at least 64 MiB, got 32 MiB; <os><kernel>: cannot find '/nonexistent/k'"));
  EXPECT_THAT(Fail(DomainXml("x", dir_.kernel(), 2,
                             "<metadata><dvm:cluster xmlns:dvm='urn:dvm:cluster:1'><dvm:node id='0'/>"
                             "<dvm:node id='1' vcpus='1'/></dvm:cluster></metadata>"))
                  .second,
              HasSubstr("address is required"));
}

TEST_F(DomainXmlTest, AHugeVcpuListIsRefusedWithoutExpandingIt) {
  // 0-254 repeated over ~4 MiB would be ~180M ids if expanded (review M5).
  std::string list = "0-254";
  while (list.size() < (4 << 20) - 4096) list += ",0-254";
  const std::string xml = DomainXml("x", dir_.kernel(), 2,
                                    absl::StrCat("<metadata><dvm:cluster xmlns:dvm='urn:dvm:cluster:1'>"
                                                 "<dvm:node id='0' vcpus='", list, "'/></dvm:cluster></metadata>"));
  auto [code, message] = Fail(xml);
  EXPECT_EQ(code, ErrorCode::kXmlError);
  EXPECT_THAT(message, HasSubstr("each vCPU once"));
  EXPECT_LT(message.size(), 200u) << "the list is not echoed whole";
  EXPECT_THAT(Fail(DomainXml("x", dir_.kernel(), 2,
                             "<metadata><dvm:cluster xmlns:dvm='urn:dvm:cluster:1'>"
                             "<dvm:node id='0' vcpus='0-1,1'/></dvm:cluster></metadata>"))
                  .second,
              HasSubstr("each vCPU once"));
  EXPECT_THAT(Fail(DomainXml("x", dir_.kernel(), 2,
                             "<metadata><dvm:cluster xmlns:dvm='urn:dvm:cluster:1'>"
                             "<dvm:node id='0' vcpus='0-1-2'/></dvm:cluster></metadata>"))
                  .second,
              HasSubstr("is not a list"));
}

TEST_F(DomainXmlTest, QuotesInTextStayOneByteAndTheFormattedSizeIsBounded) {
  // Escaping quotes in text made a 4 MiB description of quotes 24 MiB when
  // stored, which the next start could not read back (review S1).
  const std::string quotes(1 << 20, '"');
  auto def = Parse(DomainXml("q", dir_.kernel(), 2, absl::StrCat("<description>", quotes, "'</description>")));
  ASSERT_TRUE(def.ok()) << def.status();
  const std::string dumped = FormatDomainXml(*def);
  EXPECT_LT(dumped.size(), (1u << 20) + 4096);
  auto again = Parse(dumped);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->description, quotes + "'");
  // Text that the formatter makes larger than the limit is refused at define.
  // (1.1 MiB of '<' in a CDATA section: 4.4 MiB once escaped.)
  const std::string lts(1100 << 10, '<');
  auto [code, message] =
      Fail(DomainXml("q", dir_.kernel(), 2, absl::StrCat("<description><![CDATA[", lts, "]]></description>")));
  EXPECT_EQ(code, ErrorCode::kXmlError);
  EXPECT_THAT(message, HasSubstr("as dvmd writes it"));
}

TEST_F(DomainXmlTest, DescriptionKeepsItsWhitespace) {
  auto def = Parse(DomainXml("d", dir_.kernel(), 2, "<description>\n  two\n  lines\n</description>"));
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ(def->description, "\n  two\n  lines\n");
  EXPECT_EQ(Parse(FormatDomainXml(*def))->description, def->description);
}

TEST_F(DomainXmlTest, ADtdInUtf16IsRefused) {
  // The substring filter sees no "<!DOCTYPE" in UTF-16 (review S9).
  const std::string utf8 = absl::StrCat("<?xml version='1.0' encoding='UTF-16'?><!DOCTYPE domain [<!ENTITY e 'x'>]>",
                                        DomainXml("u", dir_.kernel()));
  std::string utf16 = "\xff\xfe";  // little-endian byte order mark
  for (char c : utf8) {
    utf16 += c;
    utf16 += '\0';
  }
  auto [code, message] = Fail(utf16);
  EXPECT_EQ(code, ErrorCode::kXmlError);
  EXPECT_THAT(message, HasSubstr("document type declarations"));
}

TEST_F(DomainXmlTest, DiskTargetsStayUniquePastTwentySix) {
  std::string disks = "<devices>";
  for (int i = 0; i < 28; ++i) {
    absl::StrAppend(&disks, "<disk type='file' device='disk'><source file='", dir_.kernel(), "'/><readonly/></disk>");
  }
  disks += "</devices>";
  auto def = ParseDomainXml(DomainXml("disks", dir_.kernel(), 2, disks), spec::HostLimits{64 * kGiB}, false);
  ASSERT_TRUE(def.ok()) << def.status();
  const std::string xml = FormatDomainXml(*def);
  EXPECT_THAT(xml, HasSubstr("<target dev='vdz'"));
  EXPECT_THAT(xml, HasSubstr("<target dev='vdaa'"));
  EXPECT_THAT(xml, HasSubstr("<target dev='vdab'"));
  EXPECT_EQ(xml.find("<target dev='vda'"), xml.rfind("<target dev='vda'")) << "vda once";
}

TEST_F(DomainXmlTest, BlockDisksAreRefused) {
  EXPECT_THAT(Fail(DomainXml("b", dir_.kernel(), 2,
                             "<devices><disk type='block' device='disk'><source dev='/dev/sda'/></disk></devices>"))
                  .second,
              HasSubstr("only file disks"));
}

TEST_F(DomainXmlTest, ANameStartingWithADotIsRefused) {
  // The store skips hidden files and deletes .tmp-*: such a domain would
  // vanish at the next start (review M3).
  for (const char* name : {".x", "..", ".tmp-foo"}) {
    auto [code, message] = Fail(DomainXml(name, dir_.kernel()));
    EXPECT_EQ(code, ErrorCode::kConfigUnsupported) << name;
    EXPECT_THAT(message, HasSubstr("not starting with '.'")) << name;
  }
}

TEST_F(DomainXmlTest, WithoutValidationAMissingKernelStillParses) {
  auto def = ParseDomainXml(DomainXml("x", "/nonexistent/vmlinuz"), spec::HostLimits{}, /*validate=*/false);
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_FALSE(ValidateDomain(*def, spec::HostLimits{}).ok());
}

TEST(Uuid, ParsesAndFormats) {
  auto u = ParseUuid("4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(UuidToString(*u), "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  EXPECT_EQ(ParseUuid("4dea22b31d52d8f32516782e98ab3fa0"), u);
  EXPECT_FALSE(ParseUuid("4dea22b3-1d52-d8f3-2516-782e98ab3fa").has_value());
  EXPECT_FALSE(ParseUuid("4dea22b3-1d52-d8f3-2516-782e98ab3fzz").has_value());
  EXPECT_FALSE(ParseUuid("4dea22b31-d52-d8f3-2516-782e98ab3fa0").has_value());
  const Uuid r = RandomUuid();
  EXPECT_EQ(r[6] >> 4, 4);
}

}  // namespace
}  // namespace dvm::libvirt
