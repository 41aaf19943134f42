#include "dvm/log.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace dvm::log {
namespace {

std::vector<std::string>* g_lines;
void Capture(Level, const char* line) { g_lines->push_back(line); }

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_lines = &lines_;
    SetSink(&Capture);
  }
  void TearDown() override {
    SetSink(nullptr);
    SetMinLevel(Level::kInfo);
  }
  std::vector<std::string> lines_;
};

TEST_F(LogTest, FormatsFileAndMessage) {
  DVM_LOG(INFO) << "hello " << 42;
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0][0], 'I');
  EXPECT_NE(lines_[0].find("log_test.cc:"), std::string::npos);
  EXPECT_NE(lines_[0].find("] hello 42"), std::string::npos);
}

TEST_F(LogTest, ThresholdFilters) {
  SetMinLevel(Level::kWarning);
  DVM_LOG(INFO) << "quiet";
  DVM_LOG(WARNING) << "loud";
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find("loud"), std::string::npos);
}

TEST_F(LogTest, RateLimitedLogsOncePerWindow) {
  for (int i = 0; i < 100; ++i) {
    DVM_LOG_EVERY_SEC(INFO, 60.0) << "burst";
  }
  EXPECT_EQ(lines_.size(), 1u);
}

TEST(LogDeathTest, CheckAborts) {
  EXPECT_DEATH(DVM_CHECK(1 + 1 == 3) << "math", "Check failed: 1 \\+ 1 == 3 math");
}

}  // namespace
}  // namespace dvm::log
