// The one place where the `durable` tool turns `--db` into a store. Every verb goes through
// open_store(), so a PostgreSQL URL (`postgresql://...`) becomes one more branch here once
// PostgresStore exists.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "durable/journal_store.hpp"

namespace durable::cli {

struct StoreLocation {
  std::string db{};  // a SQLite file path today; a PostgreSQL URL later
  // How long a write waits for another process's lock before the command fails as busy.
  std::chrono::milliseconds busy_timeout{5000};
};

// Opens the store `location` names. Never creates one: a missing SQLite file is a CliError, so a
// mistyped path is reported instead of silently becoming an empty journal. Errors of the store
// itself (a newer schema, a file that is not a durable journal, busy) pass through as StoreError.
std::shared_ptr<JournalStore> open_store(const StoreLocation& location);

}  // namespace durable::cli
