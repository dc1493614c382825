#include "durable/clock.hpp"

#include <algorithm>

namespace durable {

TimePoint SystemClock::now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

std::chrono::nanoseconds SystemClock::real_wait_until(TimePoint deadline) const {
  auto left = deadline - std::chrono::system_clock::now();
  return std::max(std::chrono::nanoseconds{0},
                  std::chrono::duration_cast<std::chrono::nanoseconds>(left));
}

SystemClock& SystemClock::instance() {
  static SystemClock clock;
  return clock;
}

ManualClock::ManualClock(TimePoint start) : now_(start) {}

TimePoint ManualClock::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

std::chrono::nanoseconds ManualClock::real_wait_until(TimePoint deadline) const {
  // Time only moves through advance()/set(), which notify listeners; until then, sleep long.
  return now() >= deadline ? std::chrono::nanoseconds{0}
                           : std::chrono::nanoseconds{std::chrono::hours(1)};
}

int ManualClock::add_listener(std::function<void()> on_jump) {
  std::lock_guard lock(mutex_);
  listeners_.emplace_back(next_id_, std::move(on_jump));
  return next_id_++;
}

void ManualClock::remove_listener(int id) {
  std::lock_guard lock(mutex_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
}

void ManualClock::advance(Duration by) {
  {
    std::lock_guard lock(mutex_);
    now_ += by;
  }
  notify();
}

void ManualClock::set(TimePoint to) {
  {
    std::lock_guard lock(mutex_);
    now_ = to;
  }
  notify();
}

void ManualClock::notify() {
  std::vector<std::function<void()>> copy;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, f] : listeners_) copy.push_back(f);
  }
  for (auto& f : copy) f();
}

}  // namespace durable
