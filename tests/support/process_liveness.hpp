// Whether a process the test did not start (and cannot wait for) still runs: for checking that a
// child dies with the process that started it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace durable::testing {

// True while `pid` exists and is not a zombie (a zombie has stopped running; whether an init
// reaps it is not the test's business).
inline bool process_is_running(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close_paren = line.rfind(')');
  return close_paren == std::string::npos || line.substr(close_paren + 2, 1) != "Z";
}

// Waits up to `bound` (a generous bound on a kernel signal delivery, not a timing guess) for `pid`
// to stop running; true if it did.
inline bool stops_running_within(pid_t pid, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (process_is_running(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace durable::testing
