#include "dvm/unix_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"

namespace dvm {
namespace {

TEST(UnixSocket, LongPathsAreRefusedNotCut) {
  EXPECT_TRUE(UnixAddress("/tmp/x.sock").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(UnixAddress(std::string(108, 'x')).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(UnixAddress("").status()));
  EXPECT_FALSE(SomeoneListens(std::string(300, 'x')));
}

TEST(UnixSocket, ConnectGivesUpOnAFullBacklog) {
  char tmpl[] = "/tmp/dvm-unix-test.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/s";
  EXPECT_TRUE(absl::IsUnavailable(ConnectUnix(path, SteadyTime::max()).status())) << "nothing there";
  auto addr = UnixAddress(path);
  ASSERT_TRUE(addr.ok());
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 0), 0);  // never accepts
  std::vector<UniqueFd> queued;
  const auto soon = [] { return std::chrono::steady_clock::now() + std::chrono::milliseconds(100); };
  while (queued.size() < 16) {
    absl::StatusOr<UniqueFd> fd = ConnectUnix(path, soon());
    if (!fd.ok()) {
      EXPECT_TRUE(absl::IsDeadlineExceeded(fd.status())) << fd.status();
      break;
    }
    EXPECT_EQ(PeerPid(fd->get()), getpid());
    queued.push_back(std::move(*fd));
  }
  EXPECT_LT(queued.size(), 16u) << "the backlog filled and connect returned instead of blocking";
  EXPECT_TRUE(SomeoneListens(path));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dvm
