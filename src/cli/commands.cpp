#include "cli/commands.hpp"

#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <limits>
#include <thread>

#include "cli/exit_codes.hpp"
#include "cli/json_view.hpp"
#include "cli/table.hpp"
#include "cli/time_format.hpp"
#include "cli/timeline.hpp"
#include "durable/engine.hpp"

namespace durable::cli {
namespace {

using namespace std::chrono_literals;

// How often `events --follow` looks in the store for entries written by other processes.
constexpr auto kFollowPollInterval = 200ms;
// `show` prints input and result in full up to this many characters.
constexpr std::size_t kShowValueChars = 2000;

void print_json(std::ostream& out, const Json& document) {
  out << document.dump(2) << '\n';
}

ExecutionRecord require_execution(JournalStore& store, const std::string& id) {
  auto record = store.get_execution(id);
  if (!record) throw NoSuchExecution("no execution with id '" + id + "'");
  return *record;
}

// nlohmann's parse errors start with "[json.exception.parse_error.101] "; the rest is the news.
std::string parse_error_text(const Json::parse_error& e) {
  std::string text = e.what();
  if (auto at = text.find("] "); text.rfind("[json.exception", 0) == 0 && at != std::string::npos) {
    text.erase(0, at + 2);
  }
  return text;
}

const char* outcome_name(ResolveOutcome outcome) {
  switch (outcome) {
    case ResolveOutcome::kResolved:
      return "resolved";
    case ResolveOutcome::kAlreadyResolved:
      return "already_resolved";
    case ResolveOutcome::kTimedOut:
      return "timed_out";
    case ResolveOutcome::kNoSuchExecution:
      return "no_such_execution";
    case ResolveOutcome::kExecutionFinished:
      return "finished";
  }
  return "unknown";
}

const char* outcome_name(CancelOutcome outcome) {
  switch (outcome) {
    case CancelOutcome::kRequested:
      return "requested";
    case CancelOutcome::kAlreadyRequested:
      return "already_requested";
    case CancelOutcome::kNoSuchExecution:
      return "no_such_execution";
    case CancelOutcome::kExecutionFinished:
      return "finished";
  }
  return "unknown";
}

// Resolves through an engine that is never started: the resolution and the execution's runnable
// mark are written to the store in one transaction, and whichever engine runs the execution
// picks them up. Such an engine has no deferred types registered, so the value is not checked
// against the deferred's type here; a value that does not fit parks the execution (see
// docs/operations.md).
int resolve_and_report(const CommonOptions& common, const std::string& token, const Json& value,
                       std::ostream& out) {
  Engine engine(open_store(common.store));
  const ResolveOutcome outcome = engine.resolve(token, value);
  if (outcome == ResolveOutcome::kNoSuchExecution) {
    throw CliError("the token names an execution that '" + common.store.db + "' does not hold");
  }
  if (common.json) {
    print_json(out, {{"outcome", outcome_name(outcome)}});
  } else {
    switch (outcome) {
      case ResolveOutcome::kResolved:
        out << "resolved: the value is recorded; the execution continues when an engine runs it\n";
        break;
      case ResolveOutcome::kAlreadyResolved:
        out << "already resolved: an earlier resolution stands; nothing changed\n";
        break;
      case ResolveOutcome::kTimedOut:
        out << "timed out: the workflow stopped waiting; nothing changed\n";
        break;
      case ResolveOutcome::kExecutionFinished:
        out << "finished: the execution has already ended; nothing changed\n";
        break;
      case ResolveOutcome::kNoSuchExecution:
        break;
    }
  }
  return outcome == ResolveOutcome::kResolved ? kExitOk : kExitNothingChanged;
}

}  // namespace

int run_list(const ListOptions& options, std::ostream& out) {
  ListQuery query;
  if (!options.workflow.empty()) query.workflow = options.workflow;
  for (const std::string& name : options.statuses) {
    auto status = execution_status_from_string(name);
    if (!status) {
      throw CliError("unknown status '" + name +
                         "' (running, waiting, completed, failed, cancelled, needs_attention)",
                     kExitUsage);
    }
    query.statuses.push_back(*status);
  }
  query.limit = options.limit;
  query.page_token = options.page_token;
  const TimePoint now = SystemClock::instance().now();
  auto time_option = [&](const std::string& text, const char* option) {
    auto time = parse_time(text, now);
    if (!time) {
      throw CliError(fmt::format("{} '{}' is neither a UTC time like 2024-05-01T12:00:00Z nor a "
                                 "duration ago like 24h",
                                 option, text),
                     kExitUsage);
    }
    return *time;
  };
  if (!options.created_after.empty()) {
    query.created_after = time_option(options.created_after, "--created-after");
  }
  if (!options.created_before.empty()) {
    query.created_before = time_option(options.created_before, "--created-before");
  }
  const ListPage page = open_store(options.common.store)->list_executions(query);

  if (options.common.json) {
    Json executions = Json::array();
    for (const auto& record : page.executions) executions.push_back(execution_json(record));
    print_json(out,
               {{"executions", std::move(executions)}, {"next_page_token", page.next_page_token}});
    return kExitOk;
  }
  if (page.executions.empty()) {
    out << "no executions\n";
    return kExitOk;
  }
  Table table({"ID", "WORKFLOW", "STATUS", "WAITING ON", "CREATED", "UPDATED"});
  for (const auto& r : page.executions) {
    table.add_row({r.id, r.workflow, std::string(to_string(r.status)), one_line(r.waiting_on, 40),
                   iso8601(r.created_at), iso8601(r.updated_at)});
  }
  out << table.render();
  if (!page.next_page_token.empty()) {
    out << "more executions: add --page-token " << page.next_page_token << '\n';
  }
  return kExitOk;
}

int run_show(const ShowOptions& options, std::ostream& out) {
  auto store = open_store(options.common.store);
  const ExecutionRecord record = require_execution(*store, options.id);
  const std::vector<Event> events = store->load_events(options.id, 0);

  if (options.common.json) {
    Json history = Json::array();
    for (const Event& e : events) history.push_back(event_json(e));
    print_json(out, {{"execution", execution_json(record)}, {"history", std::move(history)}});
    return kExitOk;
  }
  auto field = [&](const char* name, const std::string& value) {
    out << fmt::format("{:<11}{}\n", name, value);
  };
  field("execution", record.id);
  field("workflow", record.workflow);
  field("status", std::string(to_string(record.status)));
  if (record.run > 1)
    field("run", fmt::format("{} (continued as new {} time(s))", record.run, record.run - 1));
  if (!record.forked_from.empty()) field("restarted", "from " + record.forked_from);
  if (!record.waiting_on.empty()) field("waiting on", record.waiting_on);
  if (record.cancel_requested && !is_final(record.status)) field("cancel", "requested");
  field("created", iso8601(record.created_at));
  field("updated", iso8601(record.updated_at));
  field("input", one_line(record.input, kShowValueChars));
  if (record.status == ExecutionStatus::kCompleted) {
    field("result", one_line(record.result.empty() ? "null" : record.result, kShowValueChars));
  }
  if (!record.error.empty()) {
    field("error", describe_error(stored_json(record.error), kShowValueChars));
  }
  out << fmt::format("\nhistory ({} event{})\n", events.size(), events.size() == 1 ? "" : "s");
  out << timeline(events).render();
  return kExitOk;
}

int run_journal_events(const EventsOptions& options, std::ostream& out) {
  auto store = open_store(options.common.store);
  std::int64_t next = std::max<std::int64_t>(options.from_offset, 0);
  bool told_attention = false;
  for (;;) {
    // The record is read before the events, so once it is final the events read after it
    // include the last one.
    const ExecutionRecord record = require_execution(*store, options.id);
    for (const Event& e : store->load_events(options.id, next)) {
      if (options.common.json) {
        out << event_json(e).dump() << '\n';
      } else {
        out << event_line(e) << '\n';
      }
      next = e.index + 1;
    }
    out.flush();
    if (!options.follow || (is_final(record.status) && next >= record.next_index)) return kExitOk;
    if (record.status == ExecutionStatus::kNeedsAttention && !told_attention) {
      // Not final: `durable resume` and fixed code continue it, so keep following.
      std::cerr << "durable: execution " << options.id
                << " needs attention; still following until it ends (resume it, or interrupt)\n";
      told_attention = true;
    }
    std::this_thread::sleep_for(kFollowPollInterval);
  }
}

void print_entry(const StreamEntry& entry, bool json, std::ostream& out) {
  out << (json ? stream_entry_json(entry).dump() : stream_line(entry)) << '\n';
}

int run_events(const EventsOptions& options, std::ostream& out) {
  if (options.journal) return run_journal_events(options, out);
  auto store = open_store(options.common.store);
  require_execution(*store, options.id);
  EngineOptions engine_options;
  engine_options.store_poll_interval = kFollowPollInterval;
  Engine engine(store, engine_options);  // never started: it only reads the stream
  StreamSubscription sub = engine.subscribe(options.id, options.from_offset);
  if (!options.follow) {
    for (auto batch = sub.drain(); !batch.empty(); batch = sub.drain()) {
      for (const StreamEntry& e : batch) print_entry(e, options.common.json, out);
    }
    out.flush();
    return kExitOk;
  }
  bool told_attention = false;
  for (;;) {
    if (auto entry = sub.next(1s)) {
      print_entry(*entry, options.common.json, out);
      out.flush();
      continue;
    }
    if (sub.ended()) return kExitOk;
    if (!told_attention &&
        require_execution(*store, options.id).status == ExecutionStatus::kNeedsAttention) {
      // Not final: `durable resume` and fixed code continue it, so keep following.
      std::cerr << "durable: execution " << options.id
                << " needs attention; still following until it ends (resume it, or interrupt)\n";
      told_attention = true;
    }
  }
}

int run_resolve(const ResolveOptions& options, std::ostream& out) {
  Json value;
  try {
    value = Json::parse(options.value);
  } catch (const Json::parse_error& e) {
    throw CliError("the value is not valid JSON: " + parse_error_text(e));
  }
  return resolve_and_report(options.common, options.token, value, out);
}

int run_reject(const RejectOptions& options, std::ostream& out) {
  return resolve_and_report(options.common, options.token,
                            Json{{"approved", false}, {"reason", options.reason}}, out);
}

int run_cancel(const ExecutionOptions& options, std::ostream& out) {
  Engine engine(open_store(options.common.store));
  const CancelOutcome outcome = engine.cancel(options.id);
  if (outcome == CancelOutcome::kNoSuchExecution) {
    throw NoSuchExecution("no execution with id '" + options.id + "'");
  }
  if (options.common.json) {
    print_json(out, {{"execution", options.id}, {"outcome", outcome_name(outcome)}});
  } else if (outcome == CancelOutcome::kRequested) {
    out << "cancel requested: the workflow sees durable::Cancelled at its next suspension point "
           "when an engine runs it\n";
  } else if (outcome == CancelOutcome::kAlreadyRequested) {
    out << "already requested: a cancel was requested before; nothing changed\n";
  } else {
    out << "finished: the execution has already ended; nothing changed\n";
  }
  return outcome == CancelOutcome::kRequested ? kExitOk : kExitNothingChanged;
}

int run_resume(const ExecutionOptions& options, std::ostream& out) {
  Engine engine(open_store(options.common.store));
  engine.resume(options.id);  // throws NoSuchExecution, or DurableError when not parked
  if (options.common.json) {
    print_json(out, {{"execution", options.id}, {"outcome", "resumed"}});
  } else {
    out << "resumed: the execution is running again; an engine with the fixed code continues it\n";
  }
  return kExitOk;
}

int run_restart(const RestartOptions& options, std::ostream& out) {
  if (options.from_step > std::numeric_limits<std::int32_t>::max()) {
    throw CliError(fmt::format("--from-step {} is out of range", options.from_step), kExitUsage);
  }
  Engine engine(open_store(options.common.store));
  durable::RestartOptions engine_options;
  if (!options.new_id.empty()) engine_options.id = options.new_id;
  // Throws NoSuchExecution, or DurableError naming the valid steps or why the source cannot be
  // restarted; nothing changes then.
  const std::string id =
      engine.restart(options.id, static_cast<std::int32_t>(options.from_step), engine_options);
  if (options.common.json) {
    print_json(out,
               {{"execution", id}, {"forked_from", options.id}, {"from_step", options.from_step}});
  } else {
    out << id << '\n';
  }
  return kExitOk;
}

int run_prune(const PruneOptions& options, std::ostream& out) {
  auto older_than = parse_duration(options.older_than);
  if (!older_than) {
    throw CliError("--older-than '" + options.older_than +
                       "' is not a duration (a whole number and ms, s, m, h or d, e.g. 30d)",
                   kExitUsage);
  }
  Engine engine(open_store(options.common.store));
  const TimePoint before = engine.clock().now() - *older_than;
  const std::size_t deleted = engine.prune(*older_than, options.limit);
  if (options.common.json) {
    print_json(out, {{"deleted", deleted}, {"finished_before", iso8601(before)}});
  } else {
    out << fmt::format("deleted {} execution{} that finished before {}\n", deleted,
                       deleted == 1 ? "" : "s", iso8601(before));
  }
  return kExitOk;
}

}  // namespace durable::cli
