// StreamSubscription: reads the store from its offset, and between reads waits on the engine's
// StreamHub for at most one store poll interval.
#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>

#include "engine/subscription.hpp"

namespace durable {

StreamSubscription::StreamSubscription(std::shared_ptr<detail::SubscriptionState> state)
    : state_(std::move(state)) {}
StreamSubscription::~StreamSubscription() {
  if (state_) cancel();
}
StreamSubscription::StreamSubscription(StreamSubscription&&) noexcept = default;
StreamSubscription& StreamSubscription::operator=(StreamSubscription&& other) noexcept {
  if (this != &other) {
    if (state_) cancel();
    state_ = std::move(other.state_);
  }
  return *this;
}

std::optional<StreamEntry> StreamSubscription::next(std::optional<Duration> timeout) {
  auto& s = *state_;
  std::lock_guard lock(s.mutex);
  auto start = std::chrono::steady_clock::now();
  auto deadline = timeout ? start + *timeout : std::chrono::steady_clock::time_point::max();
  for (;;) {
    if (s.cancelled) {
      s.ended = true;
      return std::nullopt;
    }
    if (!s.buffer.empty()) {
      StreamEntry entry = std::move(s.buffer.front());
      s.buffer.pop_front();
      s.delivered = entry.offset + 1;
      return entry;
    }
    if (s.ended) {
      s.finished = true;
      return std::nullopt;
    }
    std::uint64_t seen = s.hub->generation();
    if (s.fill()) continue;
    if (s.ended) {
      s.finished = true;
      return std::nullopt;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    auto poll_deadline = now + s.poll_interval;
    s.hub->wait(seen, std::min(deadline, poll_deadline), [&] { return s.cancelled.load(); });
  }
}

std::vector<StreamEntry> StreamSubscription::drain(std::size_t limit) {
  auto& s = *state_;
  std::lock_guard lock(s.mutex);
  if (s.cancelled) s.ended = true;
  if (s.buffer.empty() && !s.ended) s.fill();
  std::vector<StreamEntry> out;
  while (!s.buffer.empty() && out.size() < limit) {
    s.delivered = s.buffer.front().offset + 1;
    out.push_back(std::move(s.buffer.front()));
    s.buffer.pop_front();
  }
  if (s.ended && s.buffer.empty()) s.finished = true;
  return out;
}

bool StreamSubscription::ended() const {
  return state_->cancelled || state_->finished;
}

void StreamSubscription::cancel() {
  state_->cancelled = true;
  state_->hub->poke();
}

std::int64_t StreamSubscription::next_offset() const {
  return state_->delivered;
}

const std::string& StreamSubscription::execution_id() const {
  return state_->id;
}

}  // namespace durable
