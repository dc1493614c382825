// Small helpers for the SQLite store: error translation and cached-statement hygiene.
#pragma once

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

}  // namespace durable::store
