#!/usr/bin/env python3
"""make_fake_bzimage.py OUT INIT_SIZE [PAYLOAD]: a file with a valid 64-bit
bzImage header (boot protocol 2.15) whose kernel needs INIT_SIZE bytes. Without
PAYLOAD there is no real kernel behind it: enough to reach dvm's memory checks.
With PAYLOAD (a flat binary) that is the protected-mode kernel, loaded at
1 MiB and entered in 64-bit mode at offset 0x200, as Linux's startup_64."""
import struct
import sys

out, init_size = sys.argv[1], int(sys.argv[2], 0)
payload = open(sys.argv[3], "rb").read() if len(sys.argv) > 3 else bytes(4096)
setup_sects = 4
image = bytearray(512 * (setup_sects + 1)) + bytearray(payload)
image[0x1F1] = setup_sects
image[0x200] = 0xEB                                 # jmp over the header...
image[0x201] = 0x6A                                 # ...which ends at 0x26C
struct.pack_into("<H", image, 0x1FE, 0xAA55)
image[0x202:0x206] = b"HdrS"
struct.pack_into("<H", image, 0x206, 0x020F)        # protocol version
struct.pack_into("<B", image, 0x211, 0x01)          # loadflags: LOADED_HIGH
struct.pack_into("<I", image, 0x22C, 0x7FFFFFFF)    # initrd_addr_max
struct.pack_into("<I", image, 0x230, 0x200000)      # kernel_alignment
struct.pack_into("<H", image, 0x236, 0x7F)          # xloadflags: 64-bit entry and more
struct.pack_into("<I", image, 0x238, 2047)          # cmdline_size
struct.pack_into("<I", image, 0x260, init_size)
with open(out, "wb") as f:
    f.write(image)
