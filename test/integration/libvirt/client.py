#!/usr/bin/python3
"""client.py URI KERNEL: libvirt-python against dvmd, every result checked."""
import sys

import libvirt

uri, kernel = sys.argv[1], sys.argv[2]
libvirt.registerErrorHandler(lambda ctx, err: None, None)  # errors are checked below


def expect_error(code, fn, *args):
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        assert e.get_error_code() == code, f"{fn.__name__}: code {e.get_error_code()} ({e}), expected {code}"
        return str(e)
    raise AssertionError(f"{fn.__name__} did not fail")


conn = libvirt.open(uri)
assert conn.getType() == "dvm", conn.getType()
model, mem_mib, cpus = conn.getInfo()[:3]
assert cpus >= 1 and mem_mib > 0, conn.getInfo()
assert "<os_type>hvm</os_type>" in conn.getCapabilities()

xml = f"""<domain type='kvm'><name>py1</name><memory unit='MiB'>128</memory><vcpu>4</vcpu>
<os><type>hvm</type><kernel>{kernel}</kernel></os></domain>"""
dom = conn.defineXML(xml)
assert dom.name() == "py1" and dom.ID() == -1 and dom.isPersistent() == 1 and dom.isActive() == 0
state, max_kib, mem_kib, vcpus, cpu_time = dom.info()
assert (state, max_kib, vcpus) == (libvirt.VIR_DOMAIN_SHUTOFF, 128 * 1024, 4), dom.info()
assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_UNKNOWN], dom.state()
assert dom.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_MAXIMUM) == 4
assert dom.maxMemory() == 128 * 1024
assert f"<kernel>{kernel}</kernel>" in dom.XMLDesc(0)
assert conn.lookupByUUIDString(dom.UUIDString()).name() == "py1"
assert "py1" in [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE)]
assert "py1" not in [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)]
assert "py1" in conn.listDefinedDomains()
dom.setAutostart(1)
assert dom.autostart() == 1
dom.setAutostart(0)
assert dom.autostart() == 0

expect_error(libvirt.VIR_ERR_NO_DOMAIN, conn.lookupByName, "nosuch")
expect_error(libvirt.VIR_ERR_XML_ERROR, conn.defineXML, "<domain type='kvm'><name>")
expect_error(libvirt.VIR_ERR_CONFIG_UNSUPPORTED, conn.defineXML, xml.replace("kvm", "qemu"))
expect_error(libvirt.VIR_ERR_DOM_EXIST, conn.defineXML, xml)  # same name, new uuid
expect_error(libvirt.VIR_ERR_OPERATION_INVALID, dom.destroy)
expect_error(libvirt.VIR_ERR_OPERATION_INVALID, dom.shutdown)
why = expect_error(libvirt.VIR_ERR_OPERATION_FAILED, dom.create)  # no KVM, no real kernel here
assert "dvm run exited" in why, why

dom.undefine()
expect_error(libvirt.VIR_ERR_NO_DOMAIN, conn.lookupByName, "py1")
conn.close()
print("python ok")
