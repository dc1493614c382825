// SqliteStore's rate limits (the rate_limits table, schema version 3): acquire_permit reads the
// limit's row, decides with the arithmetic every store shares (store_common), and writes the row
// back in one BEGIN IMMEDIATE transaction, so processes sharing the file never overdraw a limit.
#include <SQLiteCpp/Statement.h>
#include <fmt/format.h>

#include <mutex>

#include "durable/errors.hpp"
#include "store/sqlite_store_impl.hpp"
#include "store/sqlite_support.hpp"
#include "store/store_common.hpp"

namespace durable {

PermitDecision SqliteStore::acquire_permit(const RateLimit& limit, TimePoint now) {
  store::check_rate_limit(limit);
  std::lock_guard lock(impl_->mutex);
  return store::sqlite_guarded(
      impl_->path, fmt::format("acquire_permit(rate limit '{}')", limit.name), [&] {
        store::WriteTransaction transaction(impl_->transactions);
        std::optional<store::PermitState> state;
        {
          SQLite::Statement select(impl_->db,
                                   "SELECT kind, mark, used FROM rate_limits WHERE name = ?");
          select.bind(1, limit.name);
          if (select.executeStep()) {
            int kind = select.getColumn(0).getInt();
            if (kind != static_cast<int>(RateLimitKind::kFixedWindow) &&
                kind != static_cast<int>(RateLimitKind::kTokenBucket)) {
              store::corrupt_journal(
                  impl_->path, fmt::format("rate limit '{}': unknown kind {}", limit.name, kind));
            }
            state =
                store::PermitState{static_cast<RateLimitKind>(kind), select.getColumn(1).getInt64(),
                                   select.getColumn(2).getInt64()};
          }
        }
        PermitDecision decision = store::decide_permit(limit, state, now);
        SQLite::Statement upsert(
            impl_->db,
            "INSERT INTO rate_limits (name, kind, mark, used) "
            "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET "
            "kind = excluded.kind, mark = excluded.mark, used = excluded.used");
        upsert.bind(1, limit.name);
        upsert.bind(2, static_cast<int>(state->kind));
        upsert.bind(3, state->mark);
        upsert.bind(4, state->used);
        upsert.exec();
        transaction.commit();
        return decision;
      });
}

}  // namespace durable
