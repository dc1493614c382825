#include "engine/stream_hub.hpp"

#include <fmt/format.h>

#include <thread>

#include "durable/errors.hpp"
#include "engine/json_text.hpp"

namespace durable::detail {
namespace {

constexpr int kAppendTries = 4;

}  // namespace

std::uint64_t StreamHub::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void StreamHub::notify() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  cv_.notify_all();
}

void StreamHub::wait(std::uint64_t seen, std::chrono::steady_clock::time_point deadline,
                     const std::function<bool()>& stopped) {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [&] { return generation_ != seen || stopped(); });
}

NewStreamEntry status_stream_entry(ExecutionStatus status, const std::string& waiting_on,
                                   const std::string& error, std::int64_t journal_index,
                                   std::int64_t run, TimePoint time) {
  // Json{{"error", ...}, {"status", ...}, {"waiting_on", ...}}.dump(), members in key order.
  std::string data = "{";
  if (!error.empty()) {
    data += "\"error\":";
    append_json(data, Json::parse(error, nullptr, false));
    data += ',';
  }
  data += "\"status\":";
  append_json_string(data, to_string(status));
  if (!waiting_on.empty()) {
    data += ",\"waiting_on\":";
    append_json_string(data, waiting_on);
  }
  data += '}';
  std::string key =
      fmt::format("{}status:{}:{}", stream_key_prefix(run), journal_index, to_string(status));
  if (!waiting_on.empty()) key += ":" + waiting_on;
  return NewStreamEntry{
      .kind = "status", .data = std::move(data), .time = time, .key = std::move(key)};
}

std::string stream_key_prefix(std::int64_t run) {
  return run == 1 ? std::string() : fmt::format("run{}/", run);
}

bool is_status_key(std::string_view key) {
  if (key.starts_with("run")) {
    auto slash = key.find('/');
    if (slash != std::string_view::npos) key.remove_prefix(slash + 1);
  }
  return key.starts_with("status:");
}

void StoreActivityStream::append(const std::string& execution_id, std::string_view kind,
                                 std::string data, std::string key) {
  std::vector<NewStreamEntry> entries{NewStreamEntry{.kind = std::string(kind),
                                                     .data = std::move(data),
                                                     .time = clock_->now(),
                                                     .key = std::move(key)}};
  for (int attempt = 1;; ++attempt) {
    try {
      store_->append_stream(execution_id, entries);
      break;
    } catch (const StoreError& e) {
      if (!e.retryable() || attempt == kAppendTries) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(5 << attempt));
    }
  }
  hub_->notify();
}

}  // namespace durable::detail
