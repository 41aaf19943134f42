#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (checked in; rerun after changing it)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
PROG, KEEPALIVE = 0x20008086, 0x6B656570


def xstr(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


def frame(proc, body=b"", prog=PROG, typ=0, serial=1, status=0):
    head = struct.pack(">IIiIII", prog, 1, proc, typ, serial, status)
    return struct.pack(">I", 4 + len(head) + len(body)) + head + body


def dom(name, uuid=b"\x11" * 16, id_=-1):
    return xstr(name) + uuid + struct.pack(">i", id_)


XML = ("<domain type='kvm'><name>fuzz</name><uuid>11111111-1111-1111-1111-111111111111</uuid>"
       "<memory unit='MiB'>128</memory><vcpu>2</vcpu><os><type>hvm</type><kernel>/etc/passwd</kernel>"
       "<cmdline>console=ttyS0</cmdline></os><metadata><dvm:cluster xmlns:dvm='urn:dvm:cluster:1'>"
       "<dvm:node id='0' vcpus='0-1'/></dvm:cluster></metadata>"
       "<devices><serial type='null'/></devices></domain>")
OPEN = frame(66) + frame(60, struct.pack(">i", 10)) + frame(1, struct.pack(">I", 1) + xstr("dvm:///system") + struct.pack(">I", 0))
U32 = lambda v: struct.pack(">I", v)

rpc = {
    "handshake": OPEN + frame(59) + frame(6) + frame(7) + frame(2),
    "define-list": OPEN + frame(11, xstr(XML)) + frame(273, struct.pack(">iI", 1, 0)) + frame(23, xstr("fuzz")),
    "lifecycle": OPEN + frame(11, xstr(XML)) + frame(196, dom("fuzz") + U32(0)) + frame(16, dom("fuzz"))
    + frame(212, dom("fuzz") + U32(0)) + frame(33, dom("fuzz")) + frame(12, dom("fuzz")) + frame(231, dom("fuzz") + U32(0)),
    "queries": OPEN + frame(14, dom("fuzz") + U32(0)) + frame(200, dom("fuzz") + U32(4)) + frame(15, dom("fuzz"))
    + frame(29, dom("fuzz") + struct.pack(">i", 1)) + frame(37, struct.pack(">i", 10)) + frame(21, struct.pack(">i", 10))
    + frame(24, b"\x11" * 16) + frame(22, struct.pack(">i", 1)) + frame(187, dom("fuzz") + U32(0)),
    "create-xml": OPEN + frame(10, xstr(XML.replace("fuzz", "fuzz2").replace("1111-1111-1111-1111", "2222-2222-2222-2222")) + U32(0)),
    "keepalive": OPEN + frame(1, prog=KEEPALIVE, typ=2, serial=0) + frame(59),
    "wrong-program": OPEN + frame(59, prog=0x12345678) + frame(999),
    "bad-args": OPEN + frame(23, b"\x00\x00\x10\x00abc") + frame(11, b"\xff\xff\xff\xff"),
}
xml = {
    "minimal": "<domain type='kvm'><name>a</name><memory>262144</memory><os><type>hvm</type><kernel>/k</kernel></os></domain>",
    "full": XML,
    "two-nodes": XML.replace("<dvm:node id='0' vcpus='0-1'/>", "<dvm:home policy='range'><dvm:range start='0' size='64M' node='0'/>"
                             "<dvm:range start='64M' size='64M' node='1'/></dvm:home><dvm:node id='0' address='10.0.0.1:7100' vcpus='0'/>"
                             "<dvm:node id='1' address='[fd00::2]:7101' vcpu_count='1'><dvm:dpdk_arg>-l 0</dvm:dpdk_arg></dvm:node>"),
    "foreign-metadata": "<domain type='kvm' xmlns:x='urn:x'><name>b</name><memory unit='G'>1</memory><metadata><x:a><x:b c='d'/></x:a></metadata>"
    "<os><type>hvm</type><kernel>/k</kernel></os><devices><disk type='file'><source file='/d'/><readonly/></disk>"
    "<interface type='ethernet'><target dev='tap0'/><mac address='52:54:00:00:00:01'/></interface></devices></domain>",
}
for name, data in rpc.items():
    os.makedirs(os.path.join(HERE, "rpc_corpus"), exist_ok=True)
    open(os.path.join(HERE, "rpc_corpus", name), "wb").write(data)
for name, data in xml.items():
    os.makedirs(os.path.join(HERE, "xml_corpus"), exist_ok=True)
    open(os.path.join(HERE, "xml_corpus", name + ".xml"), "w").write(data)
