// libFuzzer target: Decode must reject or accept any bytes without crashing,
// and whatever it accepts must re-encode to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "dsm/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = dvm::dsm::Decode(std::span<const uint8_t>(data, size), 64);
  if (!decoded.ok()) return 0;
  std::vector<uint8_t> again = dvm::dsm::Encode(decoded->msg, decoded->page);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  return 0;
}
