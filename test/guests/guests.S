/* Tiny real-mode guests for the lab tests, assembled at build time by the C
   compiler driver (cpp + as). Each is a read-only byte blob between
   dvm_guest_<name>_begin and _end; guests.h hands them out as spans.

   All code here is position-independent within the blob (relative jumps only)
   and uses absolute addresses only for the data page and MMIO, per guest_abi.h. */
#include "test/guests/guest_abi.h"

#define GUEST(name)            \
  .globl dvm_guest_##name##_begin; \
  .globl dvm_guest_##name##_end;   \
  dvm_guest_##name##_begin:

#define END_GUEST(name) dvm_guest_##name##_end:

  .section .rodata.dvm_guests, "a"
  .code16

/* smoke: one of each exit a VMM handles. The host sets AL to the vCPU id.
     out  REPORT  <- vCPU id                    (KVM_EXIT_IO, out)
     in   INPUT   -> host's byte                (KVM_EXIT_IO, in)
     out  ECHO    <- that byte + 1              (the guest really got it)
     MMIO write   WRITE_VALUE at F000:0010      (KVM_EXIT_MMIO, write)
     MMIO read    F000:0020 -> host's byte      (KVM_EXIT_MMIO, read)
     out  REPORT2 <- that byte
     hlt                                        (KVM_EXIT_HLT) */
GUEST(smoke)
  outb %al, $DVM_GUEST_PORT_REPORT
  inb $DVM_GUEST_PORT_INPUT, %al
  incb %al
  outb %al, $DVM_GUEST_PORT_ECHO
  movw $DVM_GUEST_MMIO_SEGMENT, %bx
  movw %bx, %ds
  movb $DVM_GUEST_MMIO_WRITE_VALUE, DVM_GUEST_MMIO_WRITE_OFFSET
  movb DVM_GUEST_MMIO_READ_OFFSET, %al
  outb %al, $DVM_GUEST_PORT_REPORT2
  hlt
END_GUEST(smoke)

/* read_once: reads the data page's first dword and reports it. */
GUEST(read_once)
  movl DVM_GUEST_DATA_GPA, %eax
  outl %eax, $DVM_GUEST_PORT_REPORT
  hlt
END_GUEST(read_once)

/* read_increment_read: reads the dword, reports it, increments it in place
   (a write), reads it again and reports that. */
GUEST(read_increment_read)
  movl DVM_GUEST_DATA_GPA, %eax
  outl %eax, $DVM_GUEST_PORT_REPORT
  incl DVM_GUEST_DATA_GPA
  movl DVM_GUEST_DATA_GPA, %eax
  outl %eax, $DVM_GUEST_PORT_REPORT2
  hlt
END_GUEST(read_increment_read)

/* write_first: writes 0x77 to the dword (a plain store, no read first),
   reads it back and reports it. */
GUEST(write_first)
  movl $0x77, DVM_GUEST_DATA_GPA
  movl DVM_GUEST_DATA_GPA, %eax
  outl %eax, $DVM_GUEST_PORT_REPORT
  hlt
END_GUEST(write_first)

/* interrupt: the user-space irqchip path. Points IVT vector IRQ_VECTOR at
   its handler, reports (IF still clear), then sti and spins. The host asks for
   an interrupt window, gets KVM_EXIT_IRQ_WINDOW_OPEN after the sti, injects
   IRQ_VECTOR with KVM_INTERRUPT; the handler reports IRQ_VECTOR and halts. */
GUEST(interrupt)
  movw $(DVM_GUEST_LOAD_GPA + (interrupt_handler - dvm_guest_interrupt_begin)), (DVM_GUEST_IRQ_VECTOR * 4)
  movw $0, (DVM_GUEST_IRQ_VECTOR * 4 + 2)
  outb %al, $DVM_GUEST_PORT_REPORT
  sti
1:
  jmp 1b
interrupt_handler:
  movb $DVM_GUEST_IRQ_VECTOR, %al
  outb %al, $DVM_GUEST_PORT_REPORT2
  hlt
END_GUEST(interrupt)

/* wait_for_change: reads the dword and reports it, then keeps reading it
   until it differs (only a new page can make it differ: the guest itself never
   writes) and reports the new value. */
GUEST(wait_for_change)
  movl DVM_GUEST_DATA_GPA, %ebx
  movl %ebx, %eax
  outl %eax, $DVM_GUEST_PORT_REPORT
1:
  movl DVM_GUEST_DATA_GPA, %eax
  cmpl %eax, %ebx
  je 1b
  outl %eax, $DVM_GUEST_PORT_REPORT2
  hlt
END_GUEST(wait_for_change)

  .code64
  .section .note.GNU-stack, "", @progbits
