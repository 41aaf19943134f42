/*
 * smp_guest: a tiny guest that tests a distributed VM end to end without
 * Linux. Loaded by dvm as a bzImage (make_fake_bzimage.py wraps it) at 1 MiB
 * and entered in 64-bit mode at offset 0x200 on vCPU 0.
 *
 * vCPU 0 copies the application processors' real-mode code to 0x10000, sends
 * INIT and SIPI to all other vCPUs (on this and other nodes), waits until they
 * all arrived, and then every vCPU runs the same loop at once: a lock-prefixed increment of one counter, and a
 * plain increment of another under an xchg spinlock, each variable on its own
 * page. The APs print a letter on the serial port (forwarded to node 0 from
 * other nodes), count themselves done and halt. vCPU 0 waits for them, checks
 * both totals and the letters, prints a DVM-CLUSTER line and writes the
 * result to the exit port: 0 ok, 1 wrong total, 2 APs missing. Built with
 * -DFOREVER, every vCPU loops for hours instead (the node-kill test).
 *
 * Why no paging in the APs: the lab's emulated nested paging (QEMU 7.2) needs
 * write access to every guest page-table page a walk reads, so page tables
 * used on two nodes would bounce between them on every TLB fill.
 */
#define COUNTER     0x40000  /* lock incl */
#define LOCK        0x41000  /* xchg spinlock */
#define PLAIN       0x42000  /* incremented under LOCK */
#define ARRIVED     0x43000  /* APs that started */
#define FINISHED    0x44000  /* APs that finished */
#define GO          0x45000  /* set by vCPU 0 once every AP arrived */
#define AP_CODE     0x10000  /* SIPI vector 0x10 */
#ifdef FOREVER
#define ROUNDS      0        /* dec from 0: 2^32 rounds, for the node-kill test */
#else
#define ROUNDS      20000    /* per vCPU */
#define DELAY       1000     /* spins between rounds: the pages bounce between nodes */
#endif
#define VCPUS       4
#define LAPIC_ICR_LO 0xFEE00300
#define LAPIC_ICR_HI 0xFEE00310
#define COM1        0x3F8
#define EXIT_PORT   0x501

  .text
  .code64
  .org 0x200
entry:
  cli
  /* The APs' code goes to AP_CODE: SIPI starts them at vector << 12. */
  lea ap_start(%rip), %rsi
  mov $AP_CODE, %rdi
  mov $(ap_end - ap_start), %rcx
  rep movsb
  /* INIT, then SIPI, to all but self (shorthand 11b). */
  mov $LAPIC_ICR_LO, %rdi       /* above 2 GiB: not a 32-bit displacement */
  movl $0, LAPIC_ICR_HI - LAPIC_ICR_LO(%rdi)
  movl $0x000C4500, (%rdi)
  mov $100000, %ecx
1: pause
  dec %ecx
  jnz 1b
  movl $(0x000C4600 | (AP_CODE >> 12)), (%rdi)

  /* Start together, so that the counters' pages really bounce. */
  mov $2000000000, %rcx
15: cmpl $(VCPUS - 1), ARRIVED
  je 16f
  pause
  dec %rcx
  jnz 15b
  jmp missing
16: movl $1, GO

  mov $ROUNDS, %ecx
2: lock incl COUNTER
3: mov $1, %eax
  xchg %eax, LOCK
  test %eax, %eax
  jz 4f
  pause
  jmp 3b
4: incl PLAIN
  movl $0, LOCK
  mov $DELAY, %edx
19: dec %edx
  jnz 19b
  dec %ecx
  jnz 2b

  /* Wait for the APs, a bounded while (about a minute in the lab). */
  mov $2000000000, %rcx
5: cmpl $(VCPUS - 1), FINISHED
  je 6f
  pause
  dec %rcx
  jnz 5b
missing:
  lea msg_missing(%rip), %rsi
  call print
  mov $2, %al
  jmp finish
6: cmpl $(VCPUS * ROUNDS), COUNTER
  jne 7f
  cmpl $(VCPUS * ROUNDS), PLAIN
  jne 7f
  lea msg_ok(%rip), %rsi
  call print
  xor %eax, %eax
  jmp finish
7: lea msg_wrong(%rip), %rsi
  call print
  mov $1, %al
finish:
  mov $EXIT_PORT, %dx
  outb %al, %dx
8: hlt
  jmp 8b

/* Prints the NUL-terminated string at %rsi on COM1. */
print:
  mov $COM1, %dx
9: lodsb
  test %al, %al
  jz 10f
  outb %al, %dx
  jmp 9b
10: ret

msg_ok:      .asciz "\nDVM-CLUSTER: 4 vCPUs, lock-prefixed and spinlock totals 80000 80000 ok\n"
msg_wrong:   .asciz "\nDVM-CLUSTER: WRONG total\n"
msg_missing: .asciz "\nDVM-CLUSTER: application processors missing\n"

/* Real mode, copied to AP_CODE; CS = AP_CODE >> 4, IP = 0. The shared
 * variables are reached through DS = 0x4000, so offsets are below 64 KiB. */
#define DS_BASE 0x40000
  .code16
ap_start:
  cli
  mov $(DS_BASE >> 4), %ax
  mov %ax, %ds
  mov $1, %eax
  lock xaddl %eax, (ARRIVED - DS_BASE)
  mov %al, %bl                  /* arrival order: 0, 1, 2 */
17: cmpl $0, (GO - DS_BASE)
  jne 18f
  pause
  jmp 17b
18: mov $ROUNDS, %ecx
11: lock incl (COUNTER - DS_BASE)
12: mov $1, %eax
  xchgl %eax, (LOCK - DS_BASE)
  test %eax, %eax
  jz 13f
  pause
  jmp 12b
13: incl (PLAIN - DS_BASE)
  movl $0, (LOCK - DS_BASE)
  mov $DELAY, %edx
20: dec %edx
  jnz 20b
  dec %ecx
  jnz 11b
  /* A letter per AP on the serial port: from another node, a forwarded write. */
  mov $COM1, %dx
  mov $'A', %al
  add %bl, %al
  outb %al, %dx
  lock incl (FINISHED - DS_BASE)
14: hlt
  jmp 14b
ap_end:
