#include "cli/store_open.hpp"

#include <filesystem>
#include <string_view>
#include <system_error>

#include "cli/exit_codes.hpp"
#include "durable/sqlite_store.hpp"

namespace durable::cli {
namespace {

bool is_url(std::string_view db, std::string_view scheme) {
  return db.substr(0, scheme.size()) == scheme;
}

}  // namespace

std::shared_ptr<JournalStore> open_store(const StoreLocation& location) {
  const std::string& db = location.db;
  if (is_url(db, "postgres://") || is_url(db, "postgresql://")) {
    throw CliError("PostgreSQL stores are not supported yet; --db takes a SQLite file");
  }
  std::error_code error;
  const auto status = std::filesystem::status(db, error);
  if (!std::filesystem::exists(status)) {
    throw CliError("no database at '" + db + "' (durable never creates one; check the path)");
  }
  if (std::filesystem::is_directory(status)) {
    throw CliError("'" + db + "' is a directory, not a database file");
  }
  SqliteOptions options;
  options.busy_timeout = location.busy_timeout;
  return SqliteStore::open(db, options);
}

}  // namespace durable::cli
