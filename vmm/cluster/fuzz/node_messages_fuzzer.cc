// libFuzzer target: the first byte picks a decoder, the rest is the body.
// Decoding any bytes must not crash, and whatever decodes must re-encode to
// the same bytes (no field is silently dropped or normalized).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "vmm/cluster/node_messages.h"

namespace {

template <typename Decode, typename Encode>
void RoundTrip(std::span<const uint8_t> body, Decode decode, Encode encode) {
  auto decoded = decode(body);
  if (!decoded.ok()) return;
  auto again = encode(*decoded);
  if (again.size() != body.size() || !std::equal(again.begin(), again.end(), body.begin())) {
    std::abort();
  }
}

// The stats reply comes as a body and a page: the first kStatsReplyBytes of
// the input are the body, the next kPageSize (when there) the page.
void StatsReplyRoundTrip(std::span<const uint8_t> in) {
  using namespace dvm::cluster;
  std::span<const uint8_t> body = in.first(std::min(in.size(), kStatsReplyBytes));
  std::span<const uint8_t> rest = in.subspan(body.size());
  const uint8_t* page = rest.size() == dvm::kPageSize ? rest.data() : nullptr;
  auto decoded = DecodeStatsReply(body, page);
  if (!decoded.ok()) return;
  EncodedStatsReply again = EncodeStatsReply(*decoded);
  if (!std::equal(again.body.begin(), again.body.end(), body.begin(), body.end()) ||
      !std::equal(again.page.begin(), again.page.end(), page, page + dvm::kPageSize)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dvm::cluster;
  if (size == 0) return 0;
  std::span<const uint8_t> body(data + 1, size - 1);
  switch (data[0] % 8) {
    case 0:
      RoundTrip(body, DecodeApicMessage, EncodeApicMessage);
      break;
    case 1:
      RoundTrip(body, DecodeApicAddressing, EncodeApicAddressing);
      break;
    case 2:
      RoundTrip(body, DecodeIoRequest, EncodeIoRequest);
      break;
    case 3:
      RoundTrip(body, DecodeIoReply, EncodeIoReply);
      break;
    case 4:
      RoundTrip(body, DecodeClockSync, EncodeClockSync);
      break;
    case 5:
      RoundTrip(body, DecodeVmEnded, EncodeVmEnded);
      break;
    case 6:
      RoundTrip(body, DecodeStatsRequest, EncodeStatsRequest);
      break;
    case 7:
      StatsReplyRoundTrip(body);
      break;
  }
  return 0;
}
