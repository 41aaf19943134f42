/* The contract between the tiny test guests (guests.S) and the tests that run
   them: where they load, where their data page is, which ports they use.
   Plain #defines because the assembler includes this file too. */
#ifndef DVM_TEST_GUESTS_GUEST_ABI_H_
#define DVM_TEST_GUESTS_GUEST_ABI_H_

/* Every guest is 16-bit real-mode code loaded at this guest-physical address
   and entered with CS = DS = 0, IP = DVM_GUEST_LOAD_GPA. */
#define DVM_GUEST_LOAD_GPA 0x1000
/* The page the memory guests read and write (dword at its start). */
#define DVM_GUEST_DATA_GPA 0x8000
/* Guest RAM the tests map: 64 KiB from GPA 0. */
#define DVM_GUEST_RAM_SIZE 0x10000

/* Port I/O: the guest reports a value (out), or asks for one (in). */
#define DVM_GUEST_PORT_REPORT 0x10
#define DVM_GUEST_PORT_REPORT2 0x11
#define DVM_GUEST_PORT_INPUT 0x12
#define DVM_GUEST_PORT_ECHO 0x13

/* MMIO: outside every memory slot, so accesses exit to user space. The smoke
   guest writes a byte at MMIO_WRITE and reads one at MMIO_READ. */
#define DVM_GUEST_MMIO_SEGMENT 0xf000
#define DVM_GUEST_MMIO_WRITE_OFFSET 0x10
#define DVM_GUEST_MMIO_READ_OFFSET 0x20
#define DVM_GUEST_MMIO_WRITE_VALUE 0x5a

/* The interrupt vector the interrupt guest handles (its IVT entry is at 4*v). */
#define DVM_GUEST_IRQ_VECTOR 0x20

#endif /* DVM_TEST_GUESTS_GUEST_ABI_H_ */
