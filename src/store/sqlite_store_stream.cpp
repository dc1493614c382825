// SqliteStore's event streams (the stream_entries table, schema version 3): the JournalStore
// stream contract over SQL. The next offset is max(seq) + 1 read inside the writer's transaction
// (or remembered from this connection's last append while no other connection has committed:
// SqliteStore::Impl::known_stream_next), so offsets have no gap even with several processes
// appending.
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
      // A taken key inserts nothing (the caller then reads the entry's offset); a taken offset
      // is still an error.
      insert(db,
             "INSERT INTO stream_entries (execution_id, seq, kind, data, time, key) "
             "VALUES (?, ?, ?, ?, ?, ?) "
             "ON CONFLICT (execution_id, key) WHERE key IS NOT NULL DO NOTHING"),
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
  auto known = known_stream_next.find(execution_id);
  std::int64_t offset = 0;
  if (known != known_stream_next.end()) {
    offset = known->second;
  } else {
    StatementUse next(stream.next_offset);
    next->bind(1, execution_id);
    next->executeStep();
    offset = next->getColumn(0).getInt64();
  }
  {
    StatementUse insert(stream.insert);
    insert->bind(1, execution_id);
    insert->bind(2, offset);
    insert->bindNoCopy(3, entry.kind);
    insert->bindNoCopy(4, entry.data);
    insert->bind(5, to_millis(entry.time));
    if (entry.key.empty()) {
      insert->bind(6);  // NULL: no key
    } else {
      insert->bindNoCopy(6, entry.key);
    }
    if (insert->exec() == 0) {
      if (auto existing = stream_key_offset(execution_id, entry.key)) return *existing;
      throw StoreError(fmt::format("append_stream(execution {}): the entry with key '{}' was "
                                   "neither inserted nor found",
                                   execution_id, entry.key),
                       /*retryable=*/false);
    }
  }
  if (known != known_stream_next.end()) {
    known->second = offset + 1;
  } else {
    if (known_stream_next.size() >= kMaxKnownJournals) known_stream_next.clear();
    known_stream_next.emplace(execution_id, offset + 1);
  }
  return offset;
}

std::vector<std::int64_t> SqliteStore::append_stream(const std::string& execution_id,
                                                     const std::vector<NewStreamEntry>& entries) {
  store::check_stream_entries(execution_id, entries);
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, fmt::format("append_stream(execution {})", execution_id), [&] {
    try {
      return impl_->append_stream_entries(execution_id, entries);
    } catch (...) {
      impl_->forget_next_indexes();  // rolled back, or perhaps committed: no longer known
      throw;
    }
  });
}

std::vector<std::int64_t> SqliteStore::Impl::append_stream_entries(
    const std::string& execution_id, const std::vector<NewStreamEntry>& entries) {
  store::WriteTransaction transaction(transactions);
  check_data_version();
  auto status_name = status_of(execution_id);
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
      offsets.push_back(stream_key_offset(execution_id, entry.key).value_or(-1));
    } else {
      offsets.push_back(append_stream_entry(execution_id, entry));
    }
  }
  if (!finished) transaction.commit();
  return offsets;
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
