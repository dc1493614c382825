#include "store/sqlite_support.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

namespace durable::store {

StoreError translate_sqlite_error(const SQLite::Exception& error, std::string_view path,
                                  std::string_view where) {
  int code = error.getErrorCode() & 0xff;  // the primary result code
  bool retryable = code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR ||
                   code == SQLITE_FULL || code == SQLITE_PROTOCOL;
  bool corrupt = code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
  return StoreError(fmt::format("sqlite store {}: {}: {}{} (sqlite code {})", path, where,
                                corrupt ? "the file is corrupt or not a SQLite database: " : "",
                                error.what(), error.getExtendedErrorCode()),
                    retryable);
}

TransactionStatements::TransactionStatements(SQLite::Database& db)
    : begin(db, "BEGIN IMMEDIATE"), commit(db, "COMMIT"), rollback(db, "ROLLBACK") {}

WriteTransaction::WriteTransaction(TransactionStatements& statements) : statements_(statements) {
  StatementUse begin(statements_.begin);
  begin->exec();
}

WriteTransaction::~WriteTransaction() {
  if (!open_) return;
  StatementUse rollback(statements_.rollback);
  rollback->tryExecuteStep();
}

void WriteTransaction::commit() {
  StatementUse commit(statements_.commit);
  commit->exec();
  open_ = false;
}

}  // namespace durable::store
