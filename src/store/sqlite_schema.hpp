// The SQLite journal's schema and its forward migrations (docs/journal-format.md describes it).
#pragma once

#include <SQLiteCpp/Database.h>

#include <string>

namespace durable::store {

// The version this code writes. Databases at a lower version are migrated forward on open; a
// higher version belongs to newer code and is refused.
int current_schema_version();

// The version recorded in `db`, 0 for an empty database. Throws StoreError (not retryable) for a
// database that holds tables but is not a durable journal. Only reads.
int read_schema_version(SQLite::Database& db, const std::string& path);

// Throws StoreError (not retryable) when `version` is newer than this code.
void refuse_newer_schema(int version, const std::string& path);

// Brings `db` to `target_version` (the current one unless a test builds an old file) in one
// BEGIN IMMEDIATE transaction, re-reading the version under the write lock so that two processes
// opening a new file migrate it once. A database already at or past the target is left alone.
void migrate(SQLite::Database& db, const std::string& path, int target_version);
inline void migrate(SQLite::Database& db, const std::string& path) {
  migrate(db, path, current_schema_version());
}

}  // namespace durable::store
