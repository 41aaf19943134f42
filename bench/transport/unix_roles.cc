#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bench/transport/roles.h"
#include "dvm/types.h"

namespace dvm::net::bench {
namespace {

constexpr size_t kReplyBytes = 8 + kPageSize;

bool ReadFull(int fd, void* buf, size_t n) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= r;
  }
  return true;
}

bool WriteFull(int fd, const void* buf, size_t n) {
  auto* p = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = write(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= r;
  }
  return true;
}

sockaddr_un Addr(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
  return a;
}

}  // namespace

int UnixServer(const std::string& path) {
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a = Addr(path);
  unlink(path.c_str());
  if (bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(ls, 1) != 0) {
    std::perror("unix server");
    return 1;
  }
  int fd = accept(ls, nullptr, nullptr);
  std::vector<uint8_t> req(kRequestBytes), reply(kReplyBytes, 0x5a);
  while (ReadFull(fd, req.data(), req.size())) {
    std::memcpy(reply.data(), req.data(), 8);
    if (!WriteFull(fd, reply.data(), reply.size())) break;
  }
  close(fd);
  close(ls);
  unlink(path.c_str());
  return 0;
}

int UnixClient(const std::string& path) {
  sockaddr_un a = Addr(path);
  int fd = -1;
  for (int i = 0; i < 500; ++i) {  // the server may not be listening yet
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) break;
    close(fd);
    fd = -1;
    usleep(10'000);
  }
  if (fd < 0) {
    std::perror("unix client connect");
    return 1;
  }
  std::vector<uint8_t> req(kRequestBytes), reply(kReplyBytes);
  auto round_trip = [&](uint64_t i) {
    std::memcpy(req.data(), &i, 8);
    return WriteFull(fd, req.data(), req.size()) && ReadFull(fd, reply.data(), reply.size());
  };
  for (int i = 0; i < kWarmup; ++i) round_trip(i);
  std::vector<double> rtt;
  for (int i = 0; i < kRoundTrips; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (!round_trip(i)) return 1;
    rtt.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                      .count());
  }
  // Throughput: kInFlight requests outstanding.
  for (int i = 0; i < kInFlight; ++i) WriteFull(fd, req.data(), req.size());
  uint64_t pages = 0;
  auto t0 = std::chrono::steady_clock::now();
  auto until = t0 + std::chrono::duration<double>(kThroughputSeconds);
  while (std::chrono::steady_clock::now() < until) {
    if (!ReadFull(fd, reply.data(), reply.size())) return 1;
    ++pages;
    WriteFull(fd, req.data(), req.size());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 0; i < kInFlight; ++i) ReadFull(fd, reply.data(), reply.size());
  close(fd);
  PrintResult(std::move(rtt), pages / secs);
  return 0;
}

void PrintResult(std::vector<double> rtt_us, double pages_per_s) {
  std::sort(rtt_us.begin(), rtt_us.end());
  double median = rtt_us[rtt_us.size() / 2];
  double p99 = rtt_us[rtt_us.size() * 99 / 100];
  std::printf("RESULT %.2f %.2f %.0f\n", median, p99, pages_per_s);
  std::fflush(stdout);
}

}  // namespace dvm::net::bench
