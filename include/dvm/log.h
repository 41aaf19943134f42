// A small logging facade (Debian's Abseil has no absl/log).
//
//   DVM_LOG(INFO) << "node " << id << " up";
//   DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dropped frame";   // rate-limited, for hot paths
//   DVM_CHECK(x > 0) << "our own invariant";              // never for outside input
//
// Lines go to stderr as "I 01:02:03.456789 file.cc:12] message". The threshold
// comes from DVM_LOG_LEVEL (debug, info, warning, error; default info).
#ifndef DVM_LOG_H_
#define DVM_LOG_H_

#include <atomic>
#include <cstdint>
#include <sstream>

namespace dvm::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

bool Enabled(Level level);
void SetMinLevel(Level level);

// Where finished lines go; tests replace it to capture output.
using Sink = void (*)(Level level, const char* line);
void SetSink(Sink sink);  // nullptr restores stderr

class Message {
 public:
  Message(Level level, const char* file, int line);
  ~Message();  // emits; aborts after a kFatal
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  Level level_;
  std::ostringstream stream_;
};

// Lets `cond ? (void)0 : Voidify() & stream` compile as a statement.
struct Voidify {
  void operator&(std::ostream&) {}
};

// True at most once per `seconds` for one call site.
bool RateLimit(std::atomic<int64_t>* last_ns, double seconds);

}  // namespace dvm::log

#define DVM_LOG_LEVEL_DEBUG ::dvm::log::Level::kDebug
#define DVM_LOG_LEVEL_INFO ::dvm::log::Level::kInfo
#define DVM_LOG_LEVEL_WARNING ::dvm::log::Level::kWarning
#define DVM_LOG_LEVEL_ERROR ::dvm::log::Level::kError
#define DVM_LOG_LEVEL_FATAL ::dvm::log::Level::kFatal

#define DVM_LOG(severity)                                      \
  !::dvm::log::Enabled(DVM_LOG_LEVEL_##severity)               \
      ? (void)0                                                \
      : ::dvm::log::Voidify() &                                \
            ::dvm::log::Message(DVM_LOG_LEVEL_##severity, __FILE__, __LINE__).stream()

#define DVM_LOG_EVERY_SEC(severity, seconds)                                         \
  static std::atomic<int64_t> DVM_LOG_CONCAT_(dvm_log_last_, __LINE__){INT64_MIN};   \
  !(::dvm::log::Enabled(DVM_LOG_LEVEL_##severity) &&                                 \
    ::dvm::log::RateLimit(&DVM_LOG_CONCAT_(dvm_log_last_, __LINE__), seconds))       \
      ? (void)0                                                                      \
      : ::dvm::log::Voidify() &                                                      \
            ::dvm::log::Message(DVM_LOG_LEVEL_##severity, __FILE__, __LINE__).stream()

#define DVM_LOG_CONCAT_INNER_(a, b) a##b
#define DVM_LOG_CONCAT_(a, b) DVM_LOG_CONCAT_INNER_(a, b)

// For dvm's own invariants only: a broken one is a bug in dvm, so abort.
#define DVM_CHECK(cond)                                                      \
  (cond) ? (void)0                                                           \
         : ::dvm::log::Voidify() &                                           \
               ::dvm::log::Message(::dvm::log::Level::kFatal, __FILE__, __LINE__) \
                       .stream()                                             \
                   << "Check failed: " #cond " "

#endif  // DVM_LOG_H_
