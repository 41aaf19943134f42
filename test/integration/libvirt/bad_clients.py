#!/usr/bin/python3
"""bad_clients.py SOCKET: clients that break libvirt's RPC rules, each of which
must get an error reply or a closed connection, while a well-behaved client
on another connection keeps getting answers."""
import socket
import struct
import sys

PROG = 0x20008086
path = sys.argv[1]


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s


def frame(proc, body=b"", prog=PROG, typ=0, serial=1, status=0):
    head = struct.pack(">IIiIII", prog, 1, proc, typ, serial, status)
    return struct.pack(">I", 4 + len(head) + len(body)) + head + body


def read_frame(s):
    """(header tuple, body), or None when the server closed the connection."""
    try:
        return read_frame_or_raise(s)
    except ConnectionResetError:  # closed with our unread bytes still queued
        return None


def read_frame_or_raise(s):
    data = b""
    while len(data) < 4:
        chunk = s.recv(4 - len(data))
        if not chunk:
            return None
        data += chunk
    (length,) = struct.unpack(">I", data)
    rest = b""
    while len(rest) < length - 4:
        chunk = s.recv(length - 4 - len(rest))
        if not chunk:
            return None
        rest += chunk
    return struct.unpack(">IIiIII", rest[:24]), rest[24:]


def expect_closed(name, payload):
    s = connect()
    s.sendall(payload)
    if read_frame(s) is not None:
        sys.exit(f"{name}: the connection was not closed")
    print(f"{name}: connection closed")


good = connect()
good.sendall(frame(66))  # AUTH_LIST
assert read_frame(good)[0][5] == 0, "the good client is answered"

expect_closed("oversized length", struct.pack(">I", 0x10000000) + b"\0" * 64)
expect_closed("length below a header", struct.pack(">I", 8) + b"\0" * 8)
expect_closed("not libvirt at all", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
bad_type = bytearray(frame(66))
bad_type[4 + 15] = 99
expect_closed("malformed header (message type 99)", bytes(bad_type))

s = connect()
s.sendall(frame(66, prog=0x11223344, serial=9))
header, body = read_frame(s)
code = struct.unpack(">i", body[:4])[0]
if header[5] != 1 or header[4] != 9 or code != 39:
    sys.exit(f"wrong program: expected an RPC error reply to serial 9, got {header} code {code}")
print("wrong program number: error reply VIR_ERR_RPC")
s.sendall(frame(66, serial=10))  # and that connection still works
assert read_frame(s)[0][5] == 0

s.sendall(frame(4242, serial=11))
header, body = read_frame(s)
code = struct.unpack(">i", body[:4])[0]
if code != 3:
    sys.exit(f"unknown procedure: expected VIR_ERR_NO_SUPPORT, got {code}")
print("unknown procedure: error reply VIR_ERR_NO_SUPPORT")

good.sendall(frame(66, serial=2))
assert read_frame(good)[0][5] == 0, "the good client is still answered"
print("all bad clients handled")
