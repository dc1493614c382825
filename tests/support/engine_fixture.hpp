// Shared set-up for engine tests: a MemoryStore (or any store), a ManualClock the test moves by
// hand, and helpers to run an engine, "crash" it (destroy it mid-run) and bring up a new one.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "durable/durable.hpp"

namespace durable::testing {

// Where an activity leaves a token for the test, which plays the outside world resolving it.
class TokenBox {
 public:
  void put(std::string token) {
    std::lock_guard lock(mutex_);
    token_ = std::move(token);
  }
  std::string get() {
    std::lock_guard lock(mutex_);
    return token_;
  }

 private:
  std::mutex mutex_;
  std::string token_;
};

class EngineTest : public ::testing::Test {
 protected:
  EngineOptions options() {
    EngineOptions o;
    o.clock = &clock_;
    o.activity_threads = 2;
    o.store_poll_interval = std::chrono::milliseconds(5);
    o.on_fault = [this](const std::string& m) {
      std::lock_guard lock(faults_mutex_);
      faults_.push_back(m);
    };
    return o;
  }

  // A new engine on the same store; registers `setup` workflows before starting it.
  template <class Setup>
  Engine& boot(Setup setup) {
    engine_.reset();
    engine_ = std::make_unique<Engine>(store_, options());
    setup(*engine_);
    engine_->start();
    return *engine_;
  }
  Engine& boot() {
    return boot([](Engine&) {});
  }
  // Destroys the engine without any goodbye: to the journal, a crash.
  void crash() { engine_.reset(); }

  std::vector<Event> events_of(const std::string& id, EventType type) {
    std::vector<Event> out;
    for (auto& e : store_->load_events(id, 0)) {
      if (e.type == type) out.push_back(e);
    }
    return out;
  }
  std::vector<std::string> faults() {
    std::lock_guard lock(faults_mutex_);
    return faults_;
  }

  ManualClock clock_;
  std::shared_ptr<JournalStore> store_ = std::make_shared<MemoryStore>();
  std::unique_ptr<Engine> engine_;
  std::mutex faults_mutex_;
  std::vector<std::string> faults_;
};

}  // namespace durable::testing
