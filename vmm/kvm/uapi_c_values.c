/* The KVM ioctl numbers as the C compiler computes them from <linux/kvm.h>
   (correct in C, unlike in C++: see uapi.h). uapi_unit_test.cc compares. */
#include <linux/kvm.h>
#include <stddef.h>

const unsigned long dvm_c_kvm_get_supported_cpuid = KVM_GET_SUPPORTED_CPUID;
const unsigned long dvm_c_kvm_set_cpuid2 = KVM_SET_CPUID2;
const unsigned long dvm_c_kvm_get_msr_index_list = KVM_GET_MSR_INDEX_LIST;
const unsigned long dvm_c_kvm_get_msrs = KVM_GET_MSRS;
const unsigned long dvm_c_kvm_set_msrs = KVM_SET_MSRS;
const unsigned long dvm_c_kvm_get_xsave = KVM_GET_XSAVE;
const unsigned long dvm_c_kvm_set_xsave = KVM_SET_XSAVE;
const unsigned long dvm_c_cpuid2_entries_offset = offsetof(struct kvm_cpuid2, entries);
const unsigned long dvm_c_msrs_entries_offset = offsetof(struct kvm_msrs, entries);
const unsigned long dvm_c_msr_list_indices_offset = offsetof(struct kvm_msr_list, indices);
