// Time as the engine sees it. The engine takes a Clock so that tests (and simulations) can move
// time by hand: a 48-hour durable sleep is tested by advancing a ManualClock, not by waiting.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

namespace durable {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

// Thread safety: every method may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;

  // How long a waiter should block in real time before looking at now() again when the next
  // deadline is `deadline`. A manual clock returns a long interval: it wakes its listeners itself.
  virtual std::chrono::nanoseconds real_wait_until(TimePoint deadline) const = 0;

  // Registers a callback run (on the caller of advance()) whenever the time jumps. Returns an id
  // for remove_listener. The system clock never jumps and ignores listeners.
  virtual int add_listener(std::function<void()> on_jump) = 0;
  virtual void remove_listener(int id) = 0;
};

// Wall-clock time (std::chrono::system_clock), truncated to milliseconds as it is journaled.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
  std::chrono::nanoseconds real_wait_until(TimePoint deadline) const override;
  int add_listener(std::function<void()>) override { return 0; }
  void remove_listener(int) override {}

  // The shared instance engines use unless told otherwise.
  static SystemClock& instance();
};

// Time that moves only when advance() or set() is called.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{std::chrono::hours(24 * 365 * 30)});

  TimePoint now() const override;
  std::chrono::nanoseconds real_wait_until(TimePoint deadline) const override;
  int add_listener(std::function<void()> on_jump) override;
  void remove_listener(int id) override;

  void advance(Duration by);
  void set(TimePoint to);

 private:
  void notify();

  mutable std::mutex mutex_;
  TimePoint now_;
  int next_id_ = 1;
  std::vector<std::pair<int, std::function<void()>>> listeners_;
};

}  // namespace durable
