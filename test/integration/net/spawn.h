// Helpers for tests that run transport tools as separate processes.
#ifndef DVM_TEST_INTEGRATION_NET_SPAWN_H_
#define DVM_TEST_INTEGRATION_NET_SPAWN_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dvm::net {

struct Child {
  pid_t pid = -1;
};

// Starts argv[0] with argv; stdout/stderr are inherited, or both go to
// `output_path` when it is not empty.
Child Spawn(const std::vector<std::string>& argv, const std::string& output_path = "");
// Exit code, 128+signal if killed, or -1 after `timeout_s` (then it is killed).
int Wait(Child& c, double timeout_s);

// A port on 127.0.0.1 that was free a moment ago.
uint16_t FreePort();
// "0=127.0.0.1:P0,1=127.0.0.1:P1,..." with `nodes` free ports.
std::string TcpNodes(int nodes = 2);
// Writes a fresh random cluster key to a temp file and returns its path.
std::string WriteKeyFile();

}  // namespace dvm::net

#endif  // DVM_TEST_INTEGRATION_NET_SPAWN_H_
