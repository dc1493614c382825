// Shared fixtures for store tests: a temporary directory and short builders for batches.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "durable/journal_store.hpp"

namespace durable::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "durable-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A fixed, arbitrary origin so tests read as "at(5)" = five seconds in.
inline TimePoint at(std::int64_t seconds) {
  return TimePoint{std::chrono::hours(24 * 365 * 30)} + std::chrono::seconds(seconds);
}

inline NewExecution new_execution(std::string id, std::string workflow = "wf",
                                  std::string input = R"({"n":1})", TimePoint created = at(0)) {
  return NewExecution{.id = std::move(id),
                      .workflow = std::move(workflow),
                      .input = std::move(input),
                      .created_at = created};
}

inline Event event(std::int64_t index, EventType type = EventType::kSideEffect, std::int32_t op = 0,
                   std::string data = R"({"value":1})", TimePoint time = at(1)) {
  return Event{.index = index,
               .type = type,
               .op = op,
               .name = "step",
               .data = std::move(data),
               .time = time};
}

// An empty write: no events, no status change. (Built by assignment: GCC 12 warns about designated
// initialisers that leave members to their defaults.)
inline ExecutionWrite write_to(std::string id, std::int64_t expected_next_index) {
  ExecutionWrite write;
  write.execution_id = std::move(id);
  write.expected_next_index = expected_next_index;
  return write;
}

// A write appending `count` side-effect events from `from`.
inline ExecutionWrite append(std::string id, std::int64_t from, int count = 1) {
  ExecutionWrite write = write_to(std::move(id), from);
  for (int i = 0; i < count; ++i) {
    write.events.push_back(event(from + i, EventType::kSideEffect, static_cast<std::int32_t>(i)));
  }
  return write;
}

inline CommitBatch creates(std::vector<NewExecution> executions) {
  return CommitBatch{.creates = std::move(executions), .writes = {}};
}

inline CommitBatch writes(std::vector<ExecutionWrite> writes) {
  return CommitBatch{.creates = {}, .writes = std::move(writes)};
}

// A queue item with no waiter, enqueued at `enqueued`.
inline NewQueueItem queue_item(std::string queue, std::string key, TimePoint enqueued = at(0),
                               std::string payload = R"({"job":1})") {
  NewQueueItem item;
  item.queue = std::move(queue);
  item.key = std::move(key);
  item.payload = std::move(payload);
  item.enqueued_at = enqueued;
  return item;
}

// The same, waited for by deferred `deferred` of execution `execution`.
inline NewQueueItem awaited_item(std::string queue, std::string key, std::string execution,
                                 std::string deferred, TimePoint enqueued = at(0)) {
  NewQueueItem item = queue_item(std::move(queue), std::move(key), enqueued);
  item.waiter_execution_id = std::move(execution);
  item.waiter_deferred = std::move(deferred);
  return item;
}

// ListQuery by parts: Query().workflow("w").limit(2).
class Query {
 public:
  Query& workflow(std::string name) {
    query_.workflow = std::move(name);
    return *this;
  }
  Query& statuses(std::vector<ExecutionStatus> statuses) {
    query_.statuses = std::move(statuses);
    return *this;
  }
  Query& created_after(TimePoint t) {
    query_.created_after = t;
    return *this;
  }
  Query& created_before(TimePoint t) {
    query_.created_before = t;
    return *this;
  }
  Query& limit(std::size_t n) {
    query_.limit = n;
    return *this;
  }
  Query& page_token(std::string token) {
    query_.page_token = std::move(token);
    return *this;
  }
  operator ListQuery() const { return query_; }

 private:
  ListQuery query_;
};

}  // namespace durable::testing
