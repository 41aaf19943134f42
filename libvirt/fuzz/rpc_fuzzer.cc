// libFuzzer target for everything a client's bytes reach in dvmd: the input
// is a stream of frames as a client would send them on one connection; each
// is length-checked and header-decoded like the server does, and each call
// runs through the procedure table (argument decoders, registry, XML parser)
// against a registry whose VMs are fakes. Nothing may crash, hang or trip a
// sanitizer.
#include <cstddef>
#include <cstdint>
#include <span>

#include "libvirt/domain_registry.h"
#include "libvirt/fake_launcher.h"
#include "libvirt/memory_domain_store.h"
#include "libvirt/procedures.h"
#include "libvirt/rpc_frame.h"

namespace {

using namespace dvm::libvirt;  // NOLINT: fuzz entry point

// A fresh daemon per input, in memory: an input's outcome does not depend on
// the ones before it (a crash reproduces from its input alone), and nothing
// is written to disk.
struct Daemon {
  Daemon() : registry(&store, &launcher, dvm::spec::HostLimits{64ull << 30}),
             procedures(&registry, DaemonInfo{.hostname = "fuzz"}) {
    registry.Load();
  }
  MemoryDomainStore store;
  FakeLauncher launcher;
  DomainRegistry registry;
  Procedures procedures;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Daemon daemon;
  ClientState client;  // one connection per input
  std::span<const uint8_t> in(data, size);
  while (in.size() >= kLengthBytes) {
    auto length = ParseFrameLength(in.first<kLengthBytes>());
    if (!length.ok() || *length > in.size()) break;  // the server would close the connection
    std::span<const uint8_t> frame = in.subspan(kLengthBytes, *length - kLengthBytes);
    in = in.subspan(*length);
    auto header = DecodeHeader(frame);
    if (!header.ok()) break;
    if (header->program != kRemoteProgram || header->type != MessageType::kCall) continue;
    CallResult result = daemon.procedures.Call(client, header->procedure, frame.subspan(kHeaderBytes));
    if (result.status == MessageStatus::kError && !RemoteError::Decode(result.body).ok()) __builtin_trap();
    (void)EncodeFrame(*header, result.body);
  }
  return 0;
}
