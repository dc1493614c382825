// The embedded default store: one SQLite database file (WAL), shareable by several processes on
// one machine. Component `durable::sqlite`. Each SqliteStore is one connection behind a mutex:
// calls from several threads are safe and serialise; processes coordinate through SQLite's locks.
// docs/journal-format.md describes the file.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "durable/journal_store.hpp"

namespace durable {

struct SqliteOptions {
  // FULL (default): a commit survives power loss. NORMAL: in WAL mode a commit survives a process
  // crash but the last transactions may be lost on power loss; faster commits.
  enum class Sync { kFull, kNormal };
  Sync sync = Sync::kFull;
  // How long a writer waits for another process's lock before reporting a retryable StoreError.
  std::chrono::milliseconds busy_timeout{5000};
};

class SqliteStore final : public JournalStore {
 public:
  // Opens (creating if needed) the database at `path`, migrating an older schema forward.
  // A schema newer than this code knows is refused with StoreError; nothing is written.
  static std::shared_ptr<SqliteStore> open(const std::string& path, SqliteOptions options = {});

  ~SqliteStore() override;

  CommitResult commit(const CommitBatch& batch) override;
  std::optional<ExecutionRecord> get_execution(const std::string& id) override;
  std::vector<Event> load_events(const std::string& id, std::int64_t from_index) override;
  ListPage list_executions(const ListQuery& query) override;
  std::vector<TimerEntry> due_timers(TimePoint now, std::size_t limit) override;
  ResolveOutcome resolve_deferred(const std::string& execution_id, const std::string& name,
                                  const std::string& value, TimePoint now) override;
  std::optional<DeferredRecord> get_deferred(const std::string& execution_id,
                                             const std::string& name) override;
  DeferredRecord close_deferred(const std::string& execution_id, const std::string& name,
                                TimePoint now) override;
  CancelOutcome request_cancel(const std::string& id) override;
  bool mark_runnable(const std::string& id) override;
  std::vector<std::string> take_runnable(std::size_t limit) override;
  EnqueueOutcome enqueue(const NewQueueItem& item) override;
  std::vector<QueueItem> lease_items(const std::string& queue, const std::string& owner,
                                     std::size_t limit, Duration lease, TimePoint now) override;
  bool renew_lease(const std::string& queue, const std::string& key, const std::string& owner,
                   Duration lease, TimePoint now) override;
  bool complete_item(const std::string& queue, const std::string& key, const std::string& owner,
                     bool ok, const std::string& result_or_error, TimePoint now) override;
  bool release_item(const std::string& queue, const std::string& key, const std::string& owner,
                    Duration delay, TimePoint now) override;
  std::optional<QueueItem> get_item(const std::string& queue, const std::string& key) override;
  std::vector<std::int64_t> append_stream(const std::string& execution_id,
                                          const std::vector<NewStreamEntry>& entries) override;
  std::vector<StreamEntry> read_stream(const std::string& execution_id, std::int64_t from_offset,
                                       std::size_t limit) override;
  PermitDecision acquire_permit(const RateLimit& limit, TimePoint now) override;
  ForkResult fork_execution(const ForkRequest& request) override;
  std::size_t delete_finished(TimePoint finished_before, std::size_t limit) override;
  std::string token_secret() override;

  struct Impl;

 private:
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace durable
