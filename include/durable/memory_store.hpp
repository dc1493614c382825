// A JournalStore that lives in memory: first-class for tests, simulations and ephemeral work.
// It honours the whole JournalStore contract except surviving the process. Thread-safe.
#pragma once

#include <memory>

#include "durable/journal_store.hpp"

namespace durable {

class MemoryStore final : public JournalStore {
 public:
  MemoryStore();
  ~MemoryStore() override;

  static std::shared_ptr<MemoryStore> create() { return std::make_shared<MemoryStore>(); }

  CommitResult commit(const CommitBatch& batch) override;
  // Moves the events into the store instead of copying them (the engine's path).
  CommitResult commit_consuming(CommitBatch& batch) override;
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

 private:
  struct State;
  CommitResult commit_batch(const CommitBatch& batch, CommitBatch* take);
  std::unique_ptr<State> state_;
};

}  // namespace durable
