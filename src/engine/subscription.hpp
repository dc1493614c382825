// The state behind a StreamSubscription, shared with Engine::subscribe which makes it.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "durable/errors.hpp"
#include "durable/journal_store.hpp"
#include "durable/stream_subscription.hpp"
#include "engine/stream_hub.hpp"

namespace durable {
namespace detail {

inline constexpr std::size_t kReadBatch = 256;

struct SubscriptionState {
  std::shared_ptr<JournalStore> store;
  std::shared_ptr<StreamHub> hub;
  std::string id;
  std::chrono::milliseconds poll_interval;
  std::atomic<bool> cancelled{false};

  std::mutex mutex;  // serialises readers; guards everything below
  std::int64_t next_offset = 0;
  std::deque<StreamEntry> buffer;
  bool ended = false;                      // the store has nothing more to give
  std::atomic<bool> finished{false};       // ended and the buffer is empty: next() says so
  std::atomic<std::int64_t> delivered{0};  // offset of the next entry handed out

  // Reads what is there into the buffer; at the end of a finished execution sets `ended`.
  // Returns whether anything was read. Retryable store faults read nothing.
  bool fill() {
    try {
      if (read()) return true;
      // Nothing new: if the execution has finished, its final status entry was committed with
      // its last entries, so one more read after seeing the status sees everything.
      auto record = store->get_execution(id);
      if (record && !is_final(record->status)) return false;
      if (read()) return true;
      ended = true;
      return false;
    } catch (const StoreError& e) {
      if (e.retryable()) return false;
      throw;
    }
  }

  bool read() {
    auto entries = store->read_stream(id, next_offset, kReadBatch);
    if (entries.empty()) return false;
    next_offset = entries.back().offset + 1;
    for (auto& e : entries) buffer.push_back(std::move(e));
    return true;
  }
};

}  // namespace detail

}  // namespace durable
