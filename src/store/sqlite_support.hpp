// Small helpers for the SQLite store: error translation, cached-statement hygiene and prepared
// write transactions.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <string_view>
#include <utility>

#include "durable/errors.hpp"

namespace durable::store {

// Maps a SQLite failure to StoreError: busy/locked/I/O/full may clear and are retryable;
// corruption and everything else are not. `where` names the operation and, when known, the
// execution ("load_events(execution a)"); `path` is the database file.
StoreError translate_sqlite_error(const SQLite::Exception& error, std::string_view path,
                                  std::string_view where);

// Runs `body`, turning SQLite exceptions into StoreError. StoreErrors raised by the body itself
// (stale writes, corrupt rows) pass through untouched.
template <class Body>
auto sqlite_guarded(std::string_view path, std::string_view where, Body&& body)
    -> decltype(body()) {
  try {
    return std::forward<Body>(body)();
  } catch (const SQLite::Exception& e) {
    throw translate_sqlite_error(e, path, where);
  }
}

// Borrows a cached prepared statement and resets it when the scope ends, however it ends, so a
// half-stepped statement never keeps a read transaction (and its snapshot) open.
class StatementUse {
 public:
  explicit StatementUse(SQLite::Statement& statement) : statement_(statement) {}
  ~StatementUse() { statement_.tryReset(); }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

  SQLite::Statement* operator->() { return &statement_; }
  SQLite::Statement& operator*() { return statement_; }

 private:
  SQLite::Statement& statement_;
};

// A write transaction (BEGIN IMMEDIATE) over three statements the connection prepared once:
// SQLite::Transaction executes its BEGIN and COMMIT as text, which SQLite parses every time (3%
// of a group commit's instructions). Rolled back when the scope ends without commit(), however
// it ends; a failed rollback is ignored (SQLite has then rolled back itself).
struct TransactionStatements {
  explicit TransactionStatements(SQLite::Database& db);
  SQLite::Statement begin, commit, rollback;
};

class WriteTransaction {
 public:
  explicit WriteTransaction(TransactionStatements& statements);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  void commit();

 private:
  TransactionStatements& statements_;
  bool open_ = true;
};

}  // namespace durable::store
