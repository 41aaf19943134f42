// The C++-safe KVM ABI of uapi.h equals what the C compiler derives from the
// kernel headers.
#include "vmm/kvm/uapi.h"

#include <gtest/gtest.h>

extern "C" {
extern const unsigned long dvm_c_kvm_get_supported_cpuid;
extern const unsigned long dvm_c_kvm_set_cpuid2;
extern const unsigned long dvm_c_kvm_get_msr_index_list;
extern const unsigned long dvm_c_kvm_get_msrs;
extern const unsigned long dvm_c_kvm_set_msrs;
extern const unsigned long dvm_c_kvm_get_xsave;
extern const unsigned long dvm_c_kvm_set_xsave;
extern const unsigned long dvm_c_cpuid2_entries_offset;
extern const unsigned long dvm_c_msrs_entries_offset;
extern const unsigned long dvm_c_msr_list_indices_offset;
}

namespace dvm::kvm::uapi {
namespace {

TEST(KvmUapiTest, IoctlNumbersMatchC) {
  EXPECT_EQ(kGetSupportedCpuid, dvm_c_kvm_get_supported_cpuid);
  EXPECT_EQ(kSetCpuid2, dvm_c_kvm_set_cpuid2);
  EXPECT_EQ(kGetMsrIndexList, dvm_c_kvm_get_msr_index_list);
  EXPECT_EQ(kGetMsrs, dvm_c_kvm_get_msrs);
  EXPECT_EQ(kSetMsrs, dvm_c_kvm_set_msrs);
  EXPECT_EQ(kGetXsave, dvm_c_kvm_get_xsave);
  EXPECT_EQ(kSetXsave, dvm_c_kvm_set_xsave);
}

TEST(KvmUapiTest, ArraysFollowTheHeaders) {
  EXPECT_EQ(sizeof(CpuidHeader), dvm_c_cpuid2_entries_offset);
  EXPECT_EQ(sizeof(MsrsHeader), dvm_c_msrs_entries_offset);
  EXPECT_EQ(sizeof(MsrListHeader), dvm_c_msr_list_indices_offset);
}

}  // namespace
}  // namespace dvm::kvm::uapi
