// SqliteStore's queue items (the queue_items table, schema version 2): the JournalStore queue
// contract over SQL. Leasing runs in one BEGIN IMMEDIATE transaction, so of several processes
// leasing at once each item goes to one owner; the ownership checks of renew, release and complete
// are part of each UPDATE's WHERE clause, so a lost lease changes no row.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <mutex>

#include "durable/errors.hpp"
#include "store/sqlite_store_impl.hpp"
#include "store/sqlite_support.hpp"
#include "store/store_common.hpp"

namespace durable {
namespace {

using store::corrupt_journal;
using store::from_millis;
using store::kItemColumns;
using store::sqlite_guarded;
using store::StatementUse;
using store::to_millis;

// Rows identify the item they act on by (queue, key) plus, for the ownership-guarded updates, the
// owner of a live-or-expired lease that nobody has taken over (JournalStore's ownership rule).
constexpr const char* kOwnedBy = "queue = ?1 AND key = ?2 AND state = 2 AND lease_owner = ?3";

std::int64_t sql_limit(std::size_t limit) {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
}

std::string item_where(const std::string& operation, const std::string& queue,
                       const std::string& key) {
  return fmt::format("{}(queue '{}', item '{}')", operation, queue, key);
}

}  // namespace

store::ItemStatements::ItemStatements(SQLite::Database& db)
    : insert(db,
             "INSERT INTO queue_items (queue, key, payload, state, ready_at, waiter_execution_id, "
             "waiter_deferred, enqueued_at, updated_at) VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?4, ?4) "
             "ON CONFLICT (queue, key) DO NOTHING"),
      select(db,
             fmt::format("SELECT {} FROM queue_items WHERE queue = ? AND key = ?", kItemColumns)),
      // Both candidate lists are read in leasing order straight off their partial indices.
      select_ready(db, fmt::format("SELECT {} FROM queue_items WHERE queue = ?1 AND state = 1 "
                                   "AND ready_at <= ?2 ORDER BY ready_at, seq LIMIT ?3",
                                   kItemColumns)),
      select_expired(db, fmt::format("SELECT {} FROM queue_items WHERE queue = ?1 AND state = 2 "
                                     "AND lease_until <= ?2 ORDER BY lease_until, seq LIMIT ?3",
                                     kItemColumns)),
      lease(db,
            "UPDATE queue_items SET state = 2, lease_owner = ?2, lease_until = ?3, "
            "attempts = attempts + 1, updated_at = ?4 WHERE seq = ?1"),
      renew(db, fmt::format("UPDATE queue_items SET lease_until = ?4, updated_at = ?5 WHERE {}",
                            kOwnedBy)),
      end(db, fmt::format("UPDATE queue_items SET state = ?4, result = ?5, error = ?6, "
                          "updated_at = ?7 WHERE {}",
                          kOwnedBy)),
      release(db, fmt::format("UPDATE queue_items SET state = 1, ready_at = ?4, updated_at = ?5 "
                              "WHERE {}",
                              kOwnedBy)) {}

QueueItem SqliteStore::Impl::decode_item(SQLite::Statement& row, std::int64_t* seq) {
  QueueItem item;
  if (seq) *seq = row.getColumn(0).getInt64();
  item.queue = row.getColumn(1).getString();
  item.key = row.getColumn(2).getString();
  item.payload = row.getColumn(3).getString();
  SQLite::Column state = row.getColumn(4);
  std::optional<QueueItemState> decoded =
      state.isInteger() ? queue_item_state_from_int(state.getInt()) : std::nullopt;
  if (!decoded) {
    corrupt_journal(path, fmt::format("queue '{}', item '{}': unknown state '{}'", item.queue,
                                      item.key, state.getString()));
  }
  item.state = *decoded;
  item.attempts = row.getColumn(5).getInt64();
  item.ready_at = from_millis(row.getColumn(6).getInt64());
  item.lease_owner = row.getColumn(7).getString();
  item.lease_until = from_millis(row.getColumn(8).getInt64());
  item.result = row.getColumn(9).getString();
  item.error = row.getColumn(10).getString();
  item.waiter_execution_id = row.getColumn(11).getString();
  item.waiter_deferred = row.getColumn(12).getString();
  item.enqueued_at = from_millis(row.getColumn(13).getInt64());
  item.updated_at = from_millis(row.getColumn(14).getInt64());
  return item;
}

EnqueueOutcome SqliteStore::Impl::enqueue(const NewQueueItem& item) {
  store::check_new_queue_item(item);
  if (!item.waiter_execution_id.empty() && !status_of(item.waiter_execution_id)) {
    throw StoreError(fmt::format("enqueue (queue '{}', item '{}'): no waiter execution {}",
                                 item.queue, item.key, item.waiter_execution_id),
                     /*retryable=*/false);
  }
  StatementUse insert(items.insert);
  insert->bind(1, item.queue);
  insert->bind(2, item.key);
  insert->bind(3, item.payload);
  insert->bind(4, to_millis(item.enqueued_at));
  insert->bind(5, item.waiter_execution_id);
  insert->bind(6, item.waiter_deferred);
  return insert->exec() == 0 ? EnqueueOutcome::kAlreadyEnqueued : EnqueueOutcome::kEnqueued;
}

EnqueueOutcome SqliteStore::enqueue(const NewQueueItem& item) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, item_where("enqueue", item.queue, item.key), [&] {
    store::WriteTransaction transaction(impl_->transactions);
    EnqueueOutcome outcome = impl_->enqueue(item);
    transaction.commit();
    return outcome;
  });
}

std::vector<QueueItem> SqliteStore::lease_items(const std::string& queue, const std::string& owner,
                                                std::size_t limit, Duration lease, TimePoint now) {
  if (limit == 0) return {};
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, fmt::format("lease_items(queue '{}')", queue), [&] {
    // The write lock is taken before the candidates are read, so no other process can lease one
    // of them between our SELECT and our UPDATE.
    store::WriteTransaction transaction(impl_->transactions);
    using Candidate = std::pair<std::int64_t, QueueItem>;  // (seq, item)
    auto read = [&](SQLite::Statement& statement) {
      std::vector<Candidate> found;
      StatementUse select(statement);
      select->bind(1, queue);
      select->bind(2, to_millis(now));
      select->bind(3, sql_limit(limit));
      while (select->executeStep()) {
        std::int64_t seq = 0;
        QueueItem item = impl_->decode_item(*select, &seq);
        found.emplace_back(seq, std::move(item));
      }
      return found;
    };
    std::vector<Candidate> candidates = read(impl_->items.select_ready);
    std::vector<Candidate> expired = read(impl_->items.select_expired);

    // Merge into leasing order: when each became leasable, then enqueue order.
    auto leasable_at = [](const QueueItem& item) {
      return item.state == QueueItemState::kReady ? item.ready_at : item.lease_until;
    };
    candidates.insert(candidates.end(), std::make_move_iterator(expired.begin()),
                      std::make_move_iterator(expired.end()));
    std::sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
      return std::pair(leasable_at(a.second), a.first) < std::pair(leasable_at(b.second), b.first);
    });
    if (candidates.size() > limit) candidates.resize(limit);

    std::vector<QueueItem> leased;
    leased.reserve(candidates.size());
    for (auto& [seq, item] : candidates) {
      StatementUse update(impl_->items.lease);
      update->bind(1, seq);
      update->bind(2, owner);
      update->bind(3, to_millis(now + lease));
      update->bind(4, to_millis(now));
      update->exec();
      item.state = QueueItemState::kLeased;
      item.lease_owner = owner;
      item.lease_until = now + lease;
      ++item.attempts;
      item.updated_at = now;
      leased.push_back(std::move(item));
    }
    transaction.commit();
    return leased;
  });
}

bool SqliteStore::renew_lease(const std::string& queue, const std::string& key,
                              const std::string& owner, Duration lease, TimePoint now) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, item_where("renew_lease", queue, key), [&] {
    // One statement: atomic on its own, and it takes the write lock only if it changes a row.
    StatementUse update(impl_->items.renew);
    update->bind(1, queue);
    update->bind(2, key);
    update->bind(3, owner);
    update->bind(4, to_millis(now + lease));
    update->bind(5, to_millis(now));
    return update->exec() > 0;
  });
}

bool SqliteStore::complete_item(const std::string& queue, const std::string& key,
                                const std::string& owner, bool ok,
                                const std::string& result_or_error, TimePoint now) {
  store::check_item_outcome(queue, key, result_or_error);
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, item_where("complete_item", queue, key), [&] {
    store::WriteTransaction transaction(impl_->transactions);
    {
      StatementUse update(impl_->items.end);
      update->bind(1, queue);
      update->bind(2, key);
      update->bind(3, owner);
      update->bind(4, static_cast<int>(ok ? QueueItemState::kDone : QueueItemState::kFailed));
      update->bind(5, ok ? result_or_error : std::string{});
      update->bind(6, ok ? std::string{} : result_or_error);
      update->bind(7, to_millis(now));
      if (update->exec() == 0) return false;  // not the owner: nothing written, roll back
    }
    std::string waiter_execution_id, waiter_deferred;
    {
      StatementUse select(impl_->items.select);
      select->bind(1, queue);
      select->bind(2, key);
      if (select->executeStep()) {
        waiter_execution_id = select->getColumn("waiter_execution_id").getString();
        waiter_deferred = select->getColumn("waiter_deferred").getString();
      }
    }
    if (!waiter_execution_id.empty()) {
      // Whatever the outcome (a finished waiter, an earlier resolution), the item has ended.
      impl_->resolve(waiter_execution_id, waiter_deferred,
                     store::queue_resolution_value(ok, result_or_error), now);
    }
    transaction.commit();
    return true;
  });
}

bool SqliteStore::release_item(const std::string& queue, const std::string& key,
                               const std::string& owner, Duration delay, TimePoint now) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, item_where("release_item", queue, key), [&] {
    StatementUse update(impl_->items.release);
    update->bind(1, queue);
    update->bind(2, key);
    update->bind(3, owner);
    update->bind(4, to_millis(now + delay));
    update->bind(5, to_millis(now));
    return update->exec() > 0;
  });
}

std::optional<QueueItem> SqliteStore::get_item(const std::string& queue, const std::string& key) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, item_where("get_item", queue, key),
                        [&]() -> std::optional<QueueItem> {
                          StatementUse select(impl_->items.select);
                          select->bind(1, queue);
                          select->bind(2, key);
                          if (!select->executeStep()) return std::nullopt;
                          return impl_->decode_item(*select);
                        });
}

}  // namespace durable
