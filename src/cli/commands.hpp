// The `durable` tool's verbs. Each takes its parsed options, writes its result to `out` (a table
// by default, one JSON document with --json) and returns the exit code (cli/exit_codes.hpp).
// Failures are thrown (CliError, DurableError, StoreError) and main() turns them into one line on
// stderr. Verbs that change something go through an Engine that is never started: it writes to
// the store, and the engine running the execution (in whichever process) picks it up from there.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "cli/store_open.hpp"

namespace durable::cli {

struct CommonOptions {
  StoreLocation store{};
  bool json = false;
};

struct ListOptions {
  CommonOptions common{};
  std::string workflow{};               // empty: any
  std::vector<std::string> statuses{};  // status names; empty: any
  std::size_t limit = 50;
  std::string page_token{};      // from a previous --json listing's next_page_token
  std::string created_after{};   // ISO-8601 UTC or a duration ago ("24h"); empty: no bound
  std::string created_before{};  // the same, exclusive
};
int run_list(const ListOptions& options, std::ostream& out);

struct ShowOptions {
  CommonOptions common{};
  std::string id{};
};
int run_show(const ShowOptions& options, std::ostream& out);

struct EventsOptions {
  CommonOptions common{};
  std::string id{};
  bool follow = false;
  bool journal = false;          // the journal's events instead of the event stream
  std::int64_t from_offset = 0;  // stream offset (or journal index with `journal`)
};
// Prints the execution's event stream (or, with `journal`, its journal events). With `follow`,
// polls the store every kFollowPollInterval and prints new entries until the execution is
// completed, failed or cancelled and everything is printed, then returns kExitOk.
int run_events(const EventsOptions& options, std::ostream& out);

struct ResolveOptions {
  CommonOptions common{};
  std::string token{};
  std::string value{};  // JSON text, parsed before anything is opened
};
int run_resolve(const ResolveOptions& options, std::ostream& out);

struct RejectOptions {
  CommonOptions common{};
  std::string token{};
  std::string reason{};
};
// Resolves with {"approved": false, "reason": REASON}: the convention of approval-style deferreds
// (examples/approval_gate's Decision).
int run_reject(const RejectOptions& options, std::ostream& out);

struct ExecutionOptions {
  CommonOptions common{};
  std::string id{};
};
int run_cancel(const ExecutionOptions& options, std::ostream& out);
int run_resume(const ExecutionOptions& options, std::ostream& out);

struct RestartOptions {
  CommonOptions common{};
  std::string id{};
  std::int64_t from_step = 0;
  std::string new_id{};  // empty: a fresh random id
};
// Engine::restart: a new execution replaying the source's steps before from_step and running the
// rest again. Prints the new execution's id (alone on its line, for scripts; --json: a document).
int run_restart(const RestartOptions& options, std::ostream& out);

struct PruneOptions {
  CommonOptions common{};
  std::string older_than{};  // a duration: "30d", "12h"
  std::size_t limit = 10000;
};
// Engine::prune: deletes executions that finished longer ago than `older_than`.
int run_prune(const PruneOptions& options, std::ostream& out);

}  // namespace durable::cli
