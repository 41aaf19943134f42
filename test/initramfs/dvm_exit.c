// dvm_exit CODE: ends the VM with an exit status by writing CODE to the VMM's
// debug exit port (vmm/layout: kDebugExitPort). `dvm run` then exits with CODE.
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

#define kDebugExitPort 0x501

int main(int argc, char** argv) {
  int code = argc > 1 ? atoi(argv[1]) : 0;
  if (ioperm(kDebugExitPort, 1, 1) != 0) {
    perror("dvm_exit: ioperm");
    return 1;
  }
  outb((unsigned char)code, kDebugExitPort);
  // Only reached if no VMM listens on the port (e.g. under another hypervisor).
  fprintf(stderr, "dvm_exit: the exit port did not stop the VM\n");
  return 1;
}
