// Built against the installed, relocated package by tests/install/install_test.cmake, which
// checks the line it prints.
//
// TODO(engine): once the engine exists, include the umbrella <durable/durable.hpp> instead, run a
// one-step workflow on a MemoryStore and on a SqliteStore, and print its result (keep one line and
// update the expected output in install_test.cmake).
#include <chrono>
#include <durable/memory_store.hpp>
#include <durable/sqlite_store.hpp>
#include <iostream>

int main() {
  durable::ManualClock clock;
  const auto start = clock.now();
  clock.advance(std::chrono::hours(48));
  // Only proves that the sqlite header compiles outside the tree; the store is not written yet.
  [[maybe_unused]] durable::SqliteOptions options;
  std::cout << "durable consumer: " << durable::to_string(durable::ExecutionStatus::kRunning)
            << ", slept "
            << std::chrono::duration_cast<std::chrono::hours>(clock.now() - start).count() << "h\n";
  return 0;
}
