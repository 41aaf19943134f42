// KVM ioctl numbers and header layouts that C++ cannot take from <linux/kvm.h>.
//
// Debian 12's kernel headers (6.1) declare flexible arrays with
// __DECLARE_FLEX_ARRAY, which in C++ wraps an empty struct (size 1, not 0).
// So in C++ sizeof(kvm_cpuid2) is 12, not 8, `entries` sits at offset 12, not
// 8, and every ioctl number that encodes such a size is wrong: the kernel
// answers EINVAL. (Fixed upstream in 6.5's uapi/linux/stddef.h.) These are the
// layouts and numbers as C sees them; uapi_unit_test.cc checks them against
// values computed by the C compiler (uapi_c_values.c).
#ifndef DVM_VMM_KVM_UAPI_H_
#define DVM_VMM_KVM_UAPI_H_

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace dvm::kvm::uapi {

// The fixed part of struct kvm_cpuid2; kvm_cpuid_entry2[nent] follows.
struct CpuidHeader {
  uint32_t nent;
  uint32_t padding;
};
// The fixed part of struct kvm_msrs; kvm_msr_entry[nmsrs] follows.
struct MsrsHeader {
  uint32_t nmsrs;
  uint32_t pad;
};
// The fixed part of struct kvm_msr_list; uint32_t indices[nmsrs] follow.
struct MsrListHeader {
  uint32_t nmsrs;
};
// struct kvm_xsave as KVM_GET/SET_XSAVE transfer it: 4 KiB of region (the
// `extra` array is only for KVM_GET_XSAVE2).
inline constexpr size_t kXsaveSize = 4096;
struct XsaveRegion {
  uint32_t region[kXsaveSize / 4];
};
static_assert(sizeof(CpuidHeader) == 8 && sizeof(MsrsHeader) == 8 && sizeof(MsrListHeader) == 4);

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);
inline constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
inline constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, XsaveRegion);
inline constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, XsaveRegion);

}  // namespace dvm::kvm::uapi

#endif  // DVM_VMM_KVM_UAPI_H_
