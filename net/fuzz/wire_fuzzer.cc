// libFuzzer target for every decoder a peer's bytes reach: frame header, whole
// frame, message, and the receive path of a datagram endpoint (decode, verify,
// reliability, reassembly) fed arbitrary frames.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "net/auth.h"
#include "net/datagram_core.h"
#include "net/reliable_link.h"
#include "net/wire.h"

namespace {

using namespace dvm::net;  // NOLINT: fuzz entry point

DatagramCore& Core() {
  static DatagramCore* core = [] {
    auto key = ClusterKey::FromBytes(std::vector<uint8_t>(32, 7));
    auto* c = new DatagramCore(dvm::NodeId(1), {dvm::NodeId(0), dvm::NodeId(1)}, *key,
                               LinkOptions{.max_fragment = 512, .window = 16}, 0);
    c->SetCallbacks(Callbacks{.on_message = [](const Received&) {}, .on_peer_down = {}});
    return c;
  }();
  return *core;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  (void)DecodeFrameHeader(in);
  auto frame = DecodeFrame(in);
  if (frame.ok()) {
    (void)DecodeMessage(frame->payload);
    // Past the MAC: the reliability layer must survive any authenticated frame.
    static ReliableLink link(LinkOptions{.max_fragment = 512, .window = 16}, 0);
    link.OnFrame(frame->header, frame->payload, 0,
                 [](std::span<const uint8_t> m) { (void)DecodeMessage(m); });
    link.Pump(0, 4, [](const LinkFrame&) {});
  }
  (void)DecodeMessage(in);
  Core().OnWireFrame(in, 0);
  return 0;
}
