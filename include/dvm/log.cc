#include "dvm/log.h"

#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace dvm::log {
namespace {

Level LevelFromEnv() {
  const char* env = std::getenv("DVM_LOG_LEVEL");
  if (env == nullptr) return Level::kInfo;
  if (std::strcmp(env, "debug") == 0) return Level::kDebug;
  if (std::strcmp(env, "warning") == 0) return Level::kWarning;
  if (std::strcmp(env, "error") == 0) return Level::kError;
  return Level::kInfo;
}

std::atomic<int> g_min_level{static_cast<int>(LevelFromEnv())};
std::atomic<Sink> g_sink{nullptr};

char LevelLetter(Level level) {
  switch (level) {
    case Level::kDebug: return 'D';
    case Level::kInfo: return 'I';
    case Level::kWarning: return 'W';
    case Level::kError: return 'E';
    case Level::kFatal: return 'F';
  }
  return '?';
}

const char* Basename(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

}  // namespace

bool Enabled(Level level) { return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed); }
void SetMinLevel(Level level) { g_min_level.store(static_cast<int>(level)); }
void SetSink(Sink sink) { g_sink.store(sink); }

Message::Message(Level level, const char* file, int line) : level_(level) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm local;
  localtime_r(&tv.tv_sec, &local);
  char prefix[64];
  std::snprintf(prefix, sizeof prefix, "%c %02d:%02d:%02d.%06ld ", LevelLetter(level), local.tm_hour,
                local.tm_min, local.tm_sec, static_cast<long>(tv.tv_usec));
  stream_ << prefix << Basename(file) << ':' << line << "] ";
}

Message::~Message() {
  std::string line = stream_.str();
  if (Sink sink = g_sink.load(); sink != nullptr) {
    sink(level_, line.c_str());
  } else {
    line.push_back('\n');
    // One write call so lines from several threads do not interleave.
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  if (level_ == Level::kFatal) std::abort();
}

bool RateLimit(std::atomic<int64_t>* last_ns, double seconds) {
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t last = last_ns->load(std::memory_order_relaxed);
  if (last != INT64_MIN && now - last < static_cast<int64_t>(seconds * 1e9)) return false;
  return last_ns->compare_exchange_strong(last, now, std::memory_order_relaxed);
}

}  // namespace dvm::log
