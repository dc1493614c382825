// FaultyStore: a test-only JournalStore that wraps another store (the "disk") and injects the
// faults a real one shows, in the spirit of LevelDB's fault-injection Env.
//
//  * Failed commits: the next N commits, every commit until cleared, or each commit with a seeded
//    probability fail with a retryable StoreError (I/O error, busy, disk full) that carries the
//    message SQLite gives for that fault. A failed commit never reaches the wrapped store, as the
//    JournalStore contract requires ("when it throws, it had no effect at all").
//  * Power loss: cut_power_at_commit(k, ...) makes the k-th commit the last thing that happens
//    before the lights go out. Either it never reaches the disk, or it reaches the disk and the
//    caller never hears back (both are possible for an atomic, synced transaction). From then on
//    every call fails, so nothing the process does afterwards reaches the disk. The test then
//    destroys the engine (the process is gone) and boots a new one on the wrapped store: what is
//    there is exactly what was durably committed.
//
// Thread-safe: the engine calls it from its scheduler thread, its workers and the test thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "durable/errors.hpp"
#include "durable/journal_store.hpp"

namespace durable::testing {

enum class Fault { kIoError, kBusy, kDiskFull };

// The message SQLite reports for each fault, so on_fault output reads like a real incident.
inline const char* fault_message(Fault fault) {
  switch (fault) {
    case Fault::kIoError:
      return "disk I/O error (injected SQLITE_IOERR_WRITE, extended code 778)";
    case Fault::kBusy:
      return "database is locked (injected SQLITE_BUSY, extended code 5)";
    case Fault::kDiskFull:
      return "database or disk is full (injected SQLITE_FULL, extended code 13)";
  }
  return "injected fault";
}

// Where a power cut falls relative to the commit that triggers it.
enum class PowerCut {
  kBeforeCommit,  // the commit never reaches the disk
  kAfterCommit,   // the commit is durable, but the caller dies before it hears so
};

class FaultyStore final : public JournalStore {
 public:
  explicit FaultyStore(std::shared_ptr<JournalStore> disk) : disk_(std::move(disk)) {}

  static std::shared_ptr<FaultyStore> wrap(std::shared_ptr<JournalStore> disk) {
    return std::make_shared<FaultyStore>(std::move(disk));
  }

  JournalStore& disk() { return *disk_; }

  // --- fault control -------------------------------------------------------------------------

  void fail_next_commits(int count, Fault fault) {
    std::lock_guard lock(mutex_);
    fail_next_ = count;
    fault_ = fault;
  }
  // Every commit fails until clear_faults().
  void fail_commits(Fault fault) {
    std::lock_guard lock(mutex_);
    fail_all_ = true;
    fault_ = fault;
  }
  // Each commit fails with probability `p`, cycling through the kinds of fault; reproducible
  // from `seed`.
  void fail_commits_randomly(double p, std::uint64_t seed) {
    std::lock_guard lock(mutex_);
    random_p_ = p;
    rng_.seed(seed);
  }
  void clear_faults() {
    std::lock_guard lock(mutex_);
    fail_next_ = 0;
    fail_all_ = false;
    random_p_ = 0;
  }

  // The next `count` append_stream calls reach the disk but report a retryable I/O error, as
  // when a commit is durable and the acknowledgement is lost: the caller retries the same append.
  void lose_next_append_acks(int count) {
    std::lock_guard lock(mutex_);
    lose_append_acks_ = count;
  }
  int appends_attempted() const {
    std::lock_guard lock(mutex_);
    return appends_attempted_;
  }

  // Another writer gets in first: `act` runs on the disk just before the next commit (`batch`)
  // reaches it, once, as when a second process commits between this writer's read and its commit.
  void before_next_commit(std::function<void(JournalStore& disk, const CommitBatch& batch)> act) {
    std::lock_guard lock(mutex_);
    before_next_commit_ = std::move(act);
  }

  // Commit number `k` (1-based, counting every commit call from now on) cuts the power.
  void cut_power_at_commit(int k, PowerCut where) {
    std::lock_guard lock(mutex_);
    cut_at_ = attempted_ + k;
    cut_where_ = where;
  }
  void cut_power() {
    {
      std::lock_guard lock(mutex_);
      power_cut_ = true;
    }
    cv_.notify_all();
  }
  bool power_is_cut() const {
    std::lock_guard lock(mutex_);
    return power_cut_;
  }

  // --- observation ---------------------------------------------------------------------------

  int commits_attempted() const {
    std::lock_guard lock(mutex_);
    return attempted_;
  }
  int commits_failed() const {
    std::lock_guard lock(mutex_);
    return failed_;
  }
  int commits_succeeded() const {
    std::lock_guard lock(mutex_);
    return attempted_ - failed_;
  }
  // When each failed commit was refused, in order: shows the caller's backoff.
  std::vector<std::chrono::steady_clock::time_point> failure_times() const {
    std::lock_guard lock(mutex_);
    return failure_times_;
  }
  // Waits (bounded) until `n` commits have failed in all; false on timeout.
  bool wait_for_failed_commits(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return failed_ >= n; });
  }
  bool wait_for_power_cut(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return power_cut_; });
  }

  // --- JournalStore --------------------------------------------------------------------------

  CommitResult commit(const CommitBatch& batch) override {
    std::unique_lock lock(mutex_);
    ++attempted_;
    if (power_cut_) refuse(lock, "commit", Fault::kIoError);
    if (cut_at_ && attempted_ == *cut_at_) {
      // The lock stays held while the disk applies the commit, so no other call slips in between
      // the commit and the cut.
      if (cut_where_ == PowerCut::kAfterCommit) disk_->commit(batch);
      power_cut_ = true;
      cut_at_.reset();
      refuse(lock, "commit", Fault::kIoError);
    }
    if (fail_next_ > 0) {
      --fail_next_;
      refuse(lock, "commit", fault_);
    }
    if (fail_all_) refuse(lock, "commit", fault_);
    if (random_p_ > 0 && std::bernoulli_distribution(random_p_)(rng_)) {
      static constexpr Fault kKinds[] = {Fault::kIoError, Fault::kBusy, Fault::kDiskFull};
      refuse(lock, "commit", kKinds[failed_ % 3]);
    }
    auto interleaved = std::exchange(before_next_commit_, nullptr);
    lock.unlock();
    if (interleaved) interleaved(*disk_, batch);
    return disk_->commit(batch);
  }

  std::optional<ExecutionRecord> get_execution(const std::string& id) override {
    check_power("get_execution");
    return disk_->get_execution(id);
  }
  std::vector<Event> load_events(const std::string& id, std::int64_t from_index) override {
    check_power("load_events");
    return disk_->load_events(id, from_index);
  }
  ListPage list_executions(const ListQuery& query) override {
    check_power("list_executions");
    return disk_->list_executions(query);
  }
  std::vector<TimerEntry> due_timers(TimePoint now, std::size_t limit) override {
    check_power("due_timers");
    return disk_->due_timers(now, limit);
  }
  ResolveOutcome resolve_deferred(const std::string& execution_id, const std::string& name,
                                  const std::string& value, TimePoint now) override {
    check_power("resolve_deferred");
    return disk_->resolve_deferred(execution_id, name, value, now);
  }
  std::optional<DeferredRecord> get_deferred(const std::string& execution_id,
                                             const std::string& name) override {
    check_power("get_deferred");
    return disk_->get_deferred(execution_id, name);
  }
  DeferredRecord close_deferred(const std::string& execution_id, const std::string& name,
                                TimePoint now) override {
    check_power("close_deferred");
    return disk_->close_deferred(execution_id, name, now);
  }
  CancelOutcome request_cancel(const std::string& id) override {
    check_power("request_cancel");
    return disk_->request_cancel(id);
  }
  bool mark_runnable(const std::string& id) override {
    check_power("mark_runnable");
    return disk_->mark_runnable(id);
  }
  std::vector<std::string> take_runnable(std::size_t limit) override {
    check_power("take_runnable");
    return disk_->take_runnable(limit);
  }
  std::string token_secret() override {
    check_power("token_secret");
    return disk_->token_secret();
  }
  EnqueueOutcome enqueue(const NewQueueItem& item) override {
    check_power("enqueue");
    return disk_->enqueue(item);
  }
  std::vector<QueueItem> lease_items(const std::string& queue, const std::string& owner,
                                     std::size_t limit, Duration lease, TimePoint now) override {
    check_power("lease_items");
    return disk_->lease_items(queue, owner, limit, lease, now);
  }
  bool renew_lease(const std::string& queue, const std::string& key, const std::string& owner,
                   Duration lease, TimePoint now) override {
    check_power("renew_lease");
    return disk_->renew_lease(queue, key, owner, lease, now);
  }
  bool complete_item(const std::string& queue, const std::string& key, const std::string& owner,
                     bool ok, const std::string& result_or_error, TimePoint now) override {
    check_power("complete_item");
    return disk_->complete_item(queue, key, owner, ok, result_or_error, now);
  }
  bool release_item(const std::string& queue, const std::string& key, const std::string& owner,
                    Duration delay, TimePoint now) override {
    check_power("release_item");
    return disk_->release_item(queue, key, owner, delay, now);
  }
  std::optional<QueueItem> get_item(const std::string& queue, const std::string& key) override {
    check_power("get_item");
    return disk_->get_item(queue, key);
  }
  std::vector<std::int64_t> append_stream(const std::string& execution_id,
                                          const std::vector<NewStreamEntry>& entries) override {
    check_power("append_stream");
    auto offsets = disk_->append_stream(execution_id, entries);
    std::lock_guard lock(mutex_);
    ++appends_attempted_;
    if (lose_append_acks_ > 0) {
      --lose_append_acks_;
      throw error("append_stream", fault_message(Fault::kIoError));
    }
    return offsets;
  }
  std::vector<StreamEntry> read_stream(const std::string& execution_id, std::int64_t from_offset,
                                       std::size_t limit) override {
    check_power("read_stream");
    return disk_->read_stream(execution_id, from_offset, limit);
  }
  PermitDecision acquire_permit(const RateLimit& limit, TimePoint now) override {
    check_power("acquire_permit");
    return disk_->acquire_permit(limit, now);
  }
  ForkResult fork_execution(const ForkRequest& request) override {
    check_power("fork_execution");
    return disk_->fork_execution(request);
  }
  std::size_t delete_finished(TimePoint finished_before, std::size_t limit) override {
    check_power("delete_finished");
    return disk_->delete_finished(finished_before, limit);
  }

 private:
  [[noreturn]] void refuse(std::unique_lock<std::mutex>& lock, const char* where, Fault fault) {
    ++failed_;
    failure_times_.push_back(std::chrono::steady_clock::now());
    bool cut = power_cut_;
    lock.unlock();
    cv_.notify_all();
    throw error(where, cut ? "the machine lost power" : fault_message(fault));
  }

  void check_power(const char* where) {
    std::lock_guard lock(mutex_);
    if (power_cut_) throw error(where, "the machine lost power");
  }

  static StoreError error(const char* where, const char* what) {
    return StoreError(std::string("faulty store: ") + where + ": " + what, /*retryable=*/true);
  }

  std::shared_ptr<JournalStore> disk_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Fault fault_ = Fault::kIoError;
  std::function<void(JournalStore&, const CommitBatch&)> before_next_commit_;
  int fail_next_ = 0;
  bool fail_all_ = false;
  double random_p_ = 0;
  std::mt19937_64 rng_;
  std::optional<int> cut_at_;
  PowerCut cut_where_ = PowerCut::kBeforeCommit;
  bool power_cut_ = false;
  int attempted_ = 0;
  int failed_ = 0;
  int lose_append_acks_ = 0;
  int appends_attempted_ = 0;
  std::vector<std::chrono::steady_clock::time_point> failure_times_;
};

}  // namespace durable::testing
