// `durable`: the operator's command-line tool over a journal store. Parses the command line
// (CLI11), runs one verb (cli/commands.hpp) and turns every failure into one line on stderr and
// an exit code from cli/exit_codes.hpp. docs/operations.md is the manual.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "durable/errors.hpp"

namespace durable::cli {
namespace {

constexpr const char* kFooter = R"(
Exit status:
  0  done
  1  error: no such execution, invalid token or JSON, missing, locked or newer-format database
  2  usage error
  3  nothing changed: already resolved, timed out, finished, cancel already requested

--db may also come from the environment variable DURABLE_DB. See docs/operations.md.)";

void print_error(const std::string& message) {
  std::fprintf(stderr, "durable: %s\n", message.c_str());
}

// --db, --busy-timeout and --json, on every verb.
void add_common(CLI::App& verb, CommonOptions& common, bool json = true) {
  verb.add_option("--db", common.store.db, "the journal: a SQLite database file")
      ->envname("DURABLE_DB")
      ->required()
      ->type_name("FILE");
  verb.add_option_function<std::int64_t>(
          "--busy-timeout",
          [&common](const std::int64_t& ms) {
            common.store.busy_timeout = std::chrono::milliseconds(ms);
          },
          "how long to wait for another process's write lock (default 5000)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("MS");
  if (json) verb.add_flag("--json", common.json, "print one JSON document instead of a table");
  verb.footer(kFooter);
}

struct Parsed {
  ListOptions list{};
  ShowOptions show{};
  EventsOptions events{};
  ResolveOptions resolve{};
  RejectOptions reject{};
  ExecutionOptions cancel{};
  ExecutionOptions resume{};
  RestartOptions restart{};
  PruneOptions prune{};
};

int main_checked(int argc, char** argv) {
  CLI::App app{
      "Operate durable executions: list, inspect, resolve, cancel, resume, restart and "
      "prune them.",
      "durable"};
  app.require_subcommand(1);
  app.footer(kFooter);
  Parsed p;

  CLI::App* list = app.add_subcommand("list", "list executions, oldest first");
  add_common(*list, p.list.common);
  list->add_option("--workflow", p.list.workflow, "only executions of this workflow")
      ->type_name("W");
  list->add_option("--status", p.list.statuses,
                   "only executions in this status (repeat or comma-separate for several)")
      ->delimiter(',')
      ->check(CLI::IsMember(
          {"running", "waiting", "completed", "failed", "cancelled", "needs_attention"}))
      ->type_name("S");
  list->add_option("--limit", p.list.limit, "at most N executions (default 50)")
      ->check(CLI::PositiveNumber)
      ->type_name("N");
  list->add_option("--page-token", p.list.page_token,
                   "continue a listing (the token a previous listing printed)")
      ->type_name("TOKEN");
  list->add_option("--created-after", p.list.created_after,
                   "only executions created at or after TIME: UTC ISO-8601 "
                   "(2024-05-01T12:00:00Z) or a duration ago (24h, 7d)")
      ->type_name("TIME");
  list->add_option("--created-before", p.list.created_before,
                   "only executions created before TIME (same forms)")
      ->type_name("TIME");

  CLI::App* show = app.add_subcommand("show",
                                      "an execution: status, input, result or error, "
                                      "and its history as a timeline");
  add_common(*show, p.show.common);
  show->add_option("ID", p.show.id, "the execution id")->required();

  CLI::App* events = app.add_subcommand(
      "events",
      "an execution's event stream (status changes, progress, logs, Claude output), one entry "
      "per line (JSON Lines with --json); --journal for its journal events instead");
  add_common(*events, p.events.common);
  events->add_option("ID", p.events.id, "the execution id")->required();
  events->add_flag("--follow", p.events.follow,
                   "keep printing new entries until the execution completes, fails or is "
                   "cancelled");
  events->add_option("--from", p.events.from_offset, "start at this stream offset (default 0)");
  events->add_flag("--journal", p.events.journal,
                   "print the journal's events (as `show` lists them) instead of the stream");

  CLI::App* resolve = app.add_subcommand("resolve", "resolve the deferred a token names");
  add_common(*resolve, p.resolve.common);
  resolve->add_option("TOKEN", p.resolve.token, "the deferred's token")->required();
  resolve->add_option("JSON", p.resolve.value, "the value, as JSON text (e.g. '{\"ok\": true}')")
      ->required();

  CLI::App* reject = app.add_subcommand(
      "reject",
      "resolve an approval-style deferred with {\"approved\": false, \"reason\": REASON}");
  add_common(*reject, p.reject.common);
  reject->add_option("TOKEN", p.reject.token, "the deferred's token")->required();
  reject->add_option("REASON", p.reject.reason, "why")->required();

  CLI::App* cancel = app.add_subcommand("cancel", "request that an execution be cancelled");
  add_common(*cancel, p.cancel.common);
  cancel->add_option("ID", p.cancel.id, "the execution id")->required();

  CLI::App* resume =
      app.add_subcommand("resume", "continue an execution parked as needing attention");
  add_common(*resume, p.resume.common);
  resume->add_option("ID", p.resume.id, "the execution id")->required();

  CLI::App* restart = app.add_subcommand(
      "restart", "run a stopped execution again from a step, as a new execution; prints its id");
  add_common(*restart, p.restart.common);
  restart->add_option("ID", p.restart.id, "the execution id")->required();
  restart
      ->add_option("--from-step", p.restart.from_step,
                   "the step (the OP column of 'durable show') to run again from; earlier "
                   "steps keep their journaled results")
      ->required()
      ->check(CLI::NonNegativeNumber)
      ->type_name("N");
  restart->add_option("--id", p.restart.new_id, "the new execution's id (default: a random one)")
      ->type_name("NEW_ID");

  CLI::App* prune = app.add_subcommand(
      "prune", "delete executions that finished (completed, failed, cancelled) long enough ago");
  add_common(*prune, p.prune.common);
  prune
      ->add_option("--older-than", p.prune.older_than,
                   "finished more than DURATION ago (a whole number and ms, s, m, h or d: 30d)")
      ->required()
      ->type_name("DURATION");
  prune->add_option("--limit", p.prune.limit, "delete at most N executions (default 10000)")
      ->check(CLI::PositiveNumber)
      ->type_name("N");

  if (argc <= 1) {
    std::cerr << app.help();
    return kExitUsage;
  }
  // CLI11 would call an unknown verb "a missing subcommand"; say what is wrong instead.
  const std::string first = argv[1];
  const auto all_verbs = app.get_subcommands([](CLI::App*) { return true; });
  const bool known = std::any_of(all_verbs.begin(), all_verbs.end(),
                                 [&](CLI::App* verb) { return verb->get_name() == first; });
  if (!first.empty() && first[0] != '-' && !known) {
    print_error("unknown verb '" + first +
                "' (list, show, events, resolve, reject, cancel, resume, restart, prune; see "
                "'durable --help')");
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);  // the help of the verb asked about, on stdout; exit 0
  } catch (const CLI::ParseError& e) {
    const auto verbs = app.get_subcommands();
    const std::string where = verbs.empty() ? "durable" : "durable " + verbs[0]->get_name();
    print_error(std::string(e.what()) + " (see '" + where + " --help')");
    return kExitUsage;
  }

  std::ostream& out = std::cout;
  if (list->parsed()) return run_list(p.list, out);
  if (show->parsed()) return run_show(p.show, out);
  if (events->parsed()) return run_events(p.events, out);
  if (resolve->parsed()) return run_resolve(p.resolve, out);
  if (reject->parsed()) return run_reject(p.reject, out);
  if (cancel->parsed()) return run_cancel(p.cancel, out);
  if (resume->parsed()) return run_resume(p.resume, out);
  if (restart->parsed()) return run_restart(p.restart, out);
  if (prune->parsed()) return run_prune(p.prune, out);
  print_error("no verb given (see 'durable --help')");
  return kExitUsage;
}

}  // namespace
}  // namespace durable::cli

int main(int argc, char** argv) {
  using namespace durable;
  using cli::print_error;
  try {
    return cli::main_checked(argc, argv);
  } catch (const cli::CliError& e) {
    print_error(e.what());
    return e.exit_code();
  } catch (const InvalidToken& e) {
    print_error(std::string("invalid token: ") + e.what());
  } catch (const StoreError& e) {
    print_error(std::string("database: ") + e.what() +
                (e.retryable() ? " (another process may hold the database; try again)" : ""));
  } catch (const std::exception& e) {
    // NoSuchExecution, DecodeError, DurableError ("only an execution that needs attention can
    // be resumed"): their messages already say what and where.
    print_error(e.what());
  }
  return cli::kExitError;
}
