// An execution's operations (ops): what each one is and where it stands (OpState), by index
// (OpTable). Owned by an ExecutionCore; touched only on the scheduler thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "durable/engine.hpp"

namespace durable::detail {

enum class OpKind : std::uint8_t {
  kActivity = 1,
  kTimer = 2,
  kDeferred = 3,
  kSideEffect = 4,
  kPatch = 5,
  kChild = 6,
  kQueue = 7  // a DurableQueue item: enqueued with its first event, then awaited like a deferred
};

struct OpState {
  OpKind kind = OpKind::kActivity;
  std::string name;
  bool from_journal = false;     // the loaded journal has events for this op
  bool live = false;             // started (or resumed) by this engine
  bool outcome_pending = false;  // an outcome event is appended but not yet durable
  bool abandoned = false;
  std::optional<Outcome> outcome;  // durable outcome
  Waiter* waiter = nullptr;

  // Activities.
  std::shared_ptr<const ActivitySpec> spec;
  ActivityCall call;
  std::string arguments;  // JSON text of the argument array (journaled with the first attempt)
  int attempts_started = 0;
  int running_attempt = 0;  // dispatched and not yet answered; 0 for none
  Json last_error;
  std::shared_ptr<std::atomic<bool>> cancel_flag;

  // Child workflows.
  std::shared_ptr<const WorkflowSpec> child_spec;
  std::string child_id;

  // Child workflows and queue items: the input (a queue item's payload).
  Json input;

  // Queue items (the payload is in `input`; `name` is the queue).
  std::string queue_key;

  // Timers (due), deferred waits (deadline) and activity retries (retry_at).
  std::optional<TimePoint> due;
  std::optional<TimePoint> retry_at;
  bool scheduled = false;  // kTimerScheduled / kDeferredAwaited is journaled or pending
  bool store_timer = false;

  bool released = false;  // OpTable's mark of an erased op that still has a slot
};

// An execution's ops by index, in index order, as a sorted vector rather than a node-based map:
// ops are made in index order (while loading, out of order at times) and mostly released in that
// order, so the table stays short and, once it has grown, making an op allocates nothing.
// Erasing the last op shrinks the table; erasing another leaves a released slot, and the slots
// are compacted once they are half released, so releasing n ops in any order costs O(n) moves.
// Making or erasing an op may move the others: no OpState reference is held across either.
class OpTable {
 public:
  using Entry = std::pair<int, OpState>;

  // Iterates over the ops that are not released, in index order.
  template <class E>
  class Iterator {
   public:
    Iterator(E* at, E* end) : at_(at), end_(end) { skip(); }
    E& operator*() const { return *at_; }
    E* operator->() const { return at_; }
    Iterator& operator++() {
      ++at_;
      skip();
      return *this;
    }
    bool operator==(const Iterator& other) const { return at_ == other.at_; }

   private:
    void skip() {
      while (at_ != end_ && at_->second.released) ++at_;
    }
    E* at_;
    E* end_;
  };

  // Inline for the newest op, the one most lookups are for (the last slot is never released).
  OpState* find(int op) {
    if (!slots_.empty() && slots_.back().first == op) return &slots_.back().second;
    return find_earlier(op);
  }
  const OpState* find(int op) const { return const_cast<OpTable*>(this)->find(op); }
  // The op, made in its default state if it is not in the table.
  OpState& operator[](int op) {
    if (!slots_.empty() && slots_.back().first == op) return slots_.back().second;
    return make(op);
  }
  void erase(int op) noexcept;
  // Drops released slots and spare capacity (for an execution that only waits).
  void shrink();

  Iterator<Entry> begin() { return {slots_.data(), slots_.data() + slots_.size()}; }
  Iterator<Entry> end() { return {slots_.data() + slots_.size(), slots_.data() + slots_.size()}; }
  Iterator<const Entry> begin() const { return {slots_.data(), slots_.data() + slots_.size()}; }
  Iterator<const Entry> end() const {
    return {slots_.data() + slots_.size(), slots_.data() + slots_.size()};
  }
  // Ops not released.
  std::size_t size() const { return slots_.size() - released_; }
  // Slots, released ones included (for tests of the compaction).
  std::size_t slots() const { return slots_.size(); }

 private:
  std::vector<Entry>::iterator slot(int op);
  OpState* find_earlier(int op);
  OpState& make(int op);
  void compact() noexcept;

  std::vector<Entry> slots_;
  std::size_t released_ = 0;
};

}  // namespace durable::detail
