// SqliteStore's event streams (the stream_entries table, schema version 3): the JournalStore
// stream contract over SQL. The next offset is max(seq) + 1 read inside the writer's transaction,
// so offsets have no gap even with several processes appending.
#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <mutex>

#include "durable/errors.hpp"
#include "store/sqlite_store_impl.hpp"
#include "store/sqlite_support.hpp"
#include "store/store_common.hpp"

namespace durable {

using store::from_millis;
using store::sqlite_guarded;
using store::StatementUse;
using store::to_millis;

store::StreamStatements::StreamStatements(SQLite::Database& db)
    : next_offset(db,
                  "SELECT coalesce(max(seq) + 1, 0) FROM stream_entries WHERE execution_id = ?"),
      find_key(db, "SELECT seq FROM stream_entries WHERE execution_id = ? AND key = ?"),
      insert(db,
             "INSERT INTO stream_entries (execution_id, seq, kind, data, time, key) "
             "VALUES (?, ?, ?, ?, ?, ?)"),
      select(db,
             "SELECT seq, kind, data, time, key FROM stream_entries "
             "WHERE execution_id = ? AND seq >= ? ORDER BY seq LIMIT ?") {}

std::optional<std::int64_t> SqliteStore::Impl::stream_key_offset(const std::string& execution_id,
                                                                 const std::string& key) {
  if (key.empty()) return std::nullopt;
  StatementUse find(stream.find_key);
  find->bind(1, execution_id);
  find->bind(2, key);
  if (!find->executeStep()) return std::nullopt;
  return find->getColumn(0).getInt64();
}

std::int64_t SqliteStore::Impl::append_stream_entry(const std::string& execution_id,
                                                    const NewStreamEntry& entry) {
  if (auto existing = stream_key_offset(execution_id, entry.key)) return *existing;
  std::int64_t offset = 0;
  {
    StatementUse next(stream.next_offset);
    next->bind(1, execution_id);
    next->executeStep();
    offset = next->getColumn(0).getInt64();
  }
  StatementUse insert(stream.insert);
  insert->bind(1, execution_id);
  insert->bind(2, offset);
  insert->bind(3, entry.kind);
  insert->bind(4, entry.data);
  insert->bind(5, to_millis(entry.time));
  if (entry.key.empty()) {
    insert->bind(6);  // NULL: no key
  } else {
    insert->bind(6, entry.key);
  }
  insert->exec();
  return offset;
}

std::vector<std::int64_t> SqliteStore::append_stream(const std::string& execution_id,
                                                     const std::vector<NewStreamEntry>& entries) {
  store::check_stream_entries(execution_id, entries);
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, fmt::format("append_stream(execution {})", execution_id), [&] {
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    auto status_name = impl_->status_of(execution_id);
    if (!status_name) {
      throw StoreError(fmt::format("append_stream: no execution {}", execution_id),
                       /*retryable=*/false);
    }
    auto status = execution_status_from_string(*status_name);
    bool finished = status && is_final(*status);
    std::vector<std::int64_t> offsets;
    offsets.reserve(entries.size());
    for (const NewStreamEntry& entry : entries) {
      if (finished) {
        offsets.push_back(impl_->stream_key_offset(execution_id, entry.key).value_or(-1));
      } else {
        offsets.push_back(impl_->append_stream_entry(execution_id, entry));
      }
    }
    if (!finished) transaction.commit();
    return offsets;
  });
}

std::vector<StreamEntry> SqliteStore::read_stream(const std::string& execution_id,
                                                  std::int64_t from_offset, std::size_t limit) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, fmt::format("read_stream(execution {})", execution_id), [&] {
    std::vector<StreamEntry> entries;
    StatementUse select(impl_->stream.select);
    select->bind(1, execution_id);
    select->bind(2, std::max<std::int64_t>(from_offset, 0));
    select->bind(3, static_cast<std::int64_t>(
                        std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
    while (select->executeStep()) {
      StreamEntry entry;
      entry.offset = select->getColumn(0).getInt64();
      entry.kind = select->getColumn(1).getString();
      entry.data = select->getColumn(2).getString();
      entry.time = from_millis(select->getColumn(3).getInt64());
      if (!select->getColumn(4).isNull()) entry.key = select->getColumn(4).getString();
      entries.push_back(std::move(entry));
    }
    return entries;
  });
}

}  // namespace durable
