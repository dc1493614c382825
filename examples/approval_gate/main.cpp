// The approval_gate command line: `run` drives the workflow, `approve` and `reject` decide it from
// another process. No state lives outside the database, so a killed `run` is simply started again.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <durable/durable.hpp>
#include <durable/sqlite_store.hpp>

#include "agents.hpp"
#include "duration.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "workflow.hpp"

namespace approval_gate {
namespace {

using namespace std::chrono_literals;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotRecorded = 3;

constexpr durable::Duration kDefaultApprovalTimeout = 48h;
constexpr durable::Duration kDefaultCoolDown = 2s;
// How often `run` looks in the journal for progress to report until the workflow waits.
constexpr durable::Duration kProgressPollInterval = 100ms;

constexpr const char* kUsage = R"(usage:
  approval_gate run --db FILE --task TEXT [--transport messages|cli|offline] [--claude-path PATH]
                    [--approval-timeout DURATION] [--cool-down DURATION]
  approval_gate approve --db FILE TOKEN [--reason TEXT]
  approval_gate reject --db FILE TOKEN --reason TEXT
  approval_gate --help

run      starts the approval-gate workflow for TEXT (or re-attaches to the execution already
         started for the same task): Claude drafts a plan, the approval token is printed, a
         person decides, then after a cool-down Claude carries out the plan in the same session,
         or the plan is withdrawn. Runs until the execution ends and prints a report. Killed at
         any point and started again with the same arguments, it continues where it was.
approve  records an approval from another process (while run waits, or while nothing runs).
reject   records a rejection; the workflow withdraws its plan.

DURATION is a whole number and a unit: 500ms, 30s, 10m, 2h, 3d. Defaults: --approval-timeout 48h,
--cool-down 2s.

transports (how the plan and its execution reach Claude; fixed when an execution starts):
  messages  the Messages API (needs ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN; ANTHROPIC_BASE_URL
            moves the endpoint). The default when ANTHROPIC_API_KEY is set.
  cli       the Claude Code CLI (`claude`, or --claude-path PATH), resuming the plan's session.
  offline   canned replies marked [offline], no Claude call. The default without a key.

environment: APPROVAL_GATE_EFFECTS_LOG=FILE appends the name of each step to FILE as it runs.

exit status:
  0  run: the execution ended approved and carried out, rejected, or timed out;
     approve/reject: the decision was recorded
  1  error: the database is missing, unreadable or locked, the token is invalid, or the
     execution failed, was cancelled or needs attention
  2  usage error
  3  approve/reject: the decision was not recorded (already decided, timed out or finished)
)";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One subcommand's arguments: `--name value` or `--name=value` options (a later one wins) and
// positional arguments.
struct Arguments {
  std::map<std::string, std::string> options;
  std::vector<std::string> positional;

  std::optional<std::string> get(const std::string& name) const {
    auto it = options.find(name);
    return it == options.end() ? std::nullopt : std::optional(it->second);
  }
  std::string require(const std::string& name) const {
    auto value = get(name);
    if (!value || value->empty()) throw UsageError("--" + name + " is required");
    return *value;
  }
};

Arguments parse_arguments(const std::vector<std::string>& args,
                          const std::set<std::string>& known) {
  Arguments parsed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      parsed.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (!known.contains(name)) throw UsageError("unknown option '--" + name + "'");
    if (!value) {
      if (i + 1 == args.size()) throw UsageError("--" + name + " needs a value");
      value = args[++i];
    }
    parsed.options[name] = *value;
  }
  return parsed;
}

durable::Duration duration_option(const Arguments& args, const std::string& name,
                                  durable::Duration fallback) {
  auto text = args.get(name);
  if (!text) return fallback;
  auto duration = parse_duration(*text);
  if (!duration) {
    throw UsageError("--" + name + " '" + *text + "' is not a duration (e.g. 30s, 10m, 2h, 3d)");
  }
  return *duration;
}

std::string format_time(durable::TimePoint time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return text;
}

bool env_set(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0';
}

struct TransportChoice {
  std::string name;
  std::string why;  // what `run` prints next to it
};

// --transport if given, else messages when ANTHROPIC_API_KEY is set, else offline. Refuses what
// cannot work before anything is opened: messages without credentials, a --claude-path that is
// not an executable, or one given for another transport.
TransportChoice choose_transport(const Arguments& args) {
  const bool key = env_set("ANTHROPIC_API_KEY") || env_set("ANTHROPIC_AUTH_TOKEN");
  TransportChoice choice;
  if (auto name = args.get("transport")) {
    if (std::find(kTransports.begin(), kTransports.end(), *name) == kTransports.end()) {
      throw UsageError("--transport must be messages, cli or offline, not '" + *name + "'");
    }
    choice = {*name, "chosen with --transport"};
  } else if (env_set("ANTHROPIC_API_KEY")) {
    choice = {"messages", "the default: ANTHROPIC_API_KEY is set"};
  } else {
    choice = {"offline", "the default: ANTHROPIC_API_KEY is not set"};
  }
  if (choice.name == "messages" && !key) {
    throw UsageError("--transport messages needs ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) set");
  }
  if (choice.name == "offline") choice.why += "; canned replies, no Claude call";
  if (auto path = args.get("claude-path")) {
    if (choice.name != "cli") throw UsageError("--claude-path applies only to --transport cli");
    if (path->find('/') != std::string::npos && access(path->c_str(), X_OK) != 0) {
      throw UsageError("--claude-path '" + *path + "' is not an executable file");
    }
  }
  return choice;
}

struct StartedExecution {
  std::string id;
  Request request;  // what it was started with
};

// The execution for `task`, if there is one.
std::optional<StartedExecution> started_execution(durable::JournalStore& store,
                                                  const std::string& task) {
  durable::ListQuery query{.workflow = kApprovalGate.name()};
  for (;;) {
    const durable::ListPage page = store.list_executions(query);
    for (const auto& execution : page.executions) {
      auto input = durable::Json::parse(execution.input, nullptr, /*allow_exceptions=*/false);
      if (input.is_object() && input.value("task", std::string()) == task) {
        return StartedExecution{execution.id, input.get<Request>()};
      }
    }
    if (page.next_page_token.empty()) return std::nullopt;
    query.page_token = page.next_page_token;
  }
}

void print_error(const std::string& message) {
  std::fprintf(stderr, "approval_gate: %s\n", message.c_str());
}

int run(const std::string& program, const Arguments& args) {
  if (!args.positional.empty()) {
    throw UsageError("unexpected argument '" + args.positional[0] + "'");
  }
  const std::string db = args.require("db");
  Request request;
  request.task = args.require("task");
  const TransportChoice choice = choose_transport(args);
  request.transport = choice.name;
  const durable::Duration timeout =
      duration_option(args, "approval-timeout", kDefaultApprovalTimeout);
  if (timeout <= durable::Duration::zero()) throw UsageError("--approval-timeout must be positive");
  request.approval_timeout_ms = timeout.count();
  request.cool_down_ms = duration_option(args, "cool-down", kDefaultCoolDown).count();

  set_command_context(program, db);
  configure_agents({.claude_path = args.get("claude-path").value_or("claude")});
  durable::EngineOptions options;
  options.on_fault = [](const std::string& message) { print_error("engine: " + message); };
  auto store = durable::SqliteStore::open(db);
  // An execution keeps the transport it started with: refuse to continue one that cannot run
  // here, rather than let its next query fail for good.
  const auto existing = started_execution(*store, request.task);
  if (existing && existing->request.transport == "messages" && !env_set("ANTHROPIC_API_KEY") &&
      !env_set("ANTHROPIC_AUTH_TOKEN")) {
    print_error(
        "the execution for this task uses the messages transport; set ANTHROPIC_API_KEY "
        "(or ANTHROPIC_AUTH_TOKEN) to continue it");
    return kExitError;
  }
  durable::Engine engine(store, options);
  engine.add(kApprovalGate);
  engine.add(kApproval);

  // Progress is printed from the execution's event stream. A re-attached execution's stream is
  // read up to here before the engine runs it, so that only what happens from now on is printed
  // (a restart prints nothing twice); a new one is read from its start.
  std::optional<durable::StreamSubscription> stream;
  if (existing) {
    stream = engine.subscribe(existing->id);
    while (!stream->drain().empty()) {
    }
  }
  const durable::TimePoint before = engine.clock().now();
  const std::string id = engine.start(kApprovalGate, request).id();
  if (!stream) stream = engine.subscribe(id);
  const auto record = engine.describe(id);
  // A re-attached execution keeps the request it was started with.
  const auto started_with = durable::Json::parse(record->input).get<Request>();
  say("transport: " + started_with.transport + " (" +
      (started_with.transport == choice.name
           ? choice.why
           : "the execution for this task started with it; --transport " + choice.name +
                 " does not apply") +
      ")");
  if (record->created_at >= before) {
    say("execution: " + id + " (started)");
  } else if (durable::is_final(record->status)) {
    say("execution: " + id + " (re-attached; it has ended)");
  } else {
    std::string where(durable::to_string(record->status));
    if (!record->waiting_on.empty()) where += " on " + record->waiting_on;
    say("execution: " + id + " (re-attached; it was " + where + ")");
  }

  // The token and "waiting", once the wait for a decision is journaled (so that it is true):
  // checked at a status change, and at once for a re-attached execution that already waits.
  ProgressPrinter printer;
  bool past_the_gate = false;
  auto check_the_gate = [&] {
    if (past_the_gate) return;
    const Progress now = read_progress(engine.history(id));
    if (now.decided) {
      past_the_gate = true;
    } else if (now.awaiting_approval) {
      if (now.token) announce_token(*now.token);
      printer.step(Step::kWaiting,
                   now.deadline ? "until " + format_time(*now.deadline) : std::string());
      past_the_gate = true;
    }
  };
  if (existing) check_the_gate();
  std::optional<durable::ExecutionRecord> final_record;
  while (!final_record) {
    if (auto entry = stream->next(kProgressPollInterval)) {
      printer.entry(*entry);
      if (entry->kind == "status") check_the_gate();
    } else if (stream->ended() || (final_record = engine.wait(id, durable::Duration::zero()))) {
      // Finished (or parked, whose stream goes on): print what is left, then the report.
      for (const auto& rest : stream->drain()) printer.entry(rest);
      if (!final_record) final_record = engine.wait(id);
    }
  }
  Report report = make_report(*final_record, engine.history(id));
  engine.stop();
  say(report.text);
  return report.exit_code;
}

int decide(const Arguments& args, bool approved) {
  const std::string db = args.require("db");
  if (args.positional.size() != 1) throw UsageError("expected exactly one TOKEN");
  const std::string& token = args.positional[0];
  std::string reason = approved ? args.get("reason").value_or("") : args.require("reason");
  // Opening would create an empty database and hide a mistyped path.
  if (!std::filesystem::exists(db)) {
    print_error("no database at '" + db + "' (is it the --db that `run` uses?)");
    return kExitError;
  }
  // Never started: the resolution goes through the store, and the process running the
  // workflow picks it up from there.
  durable::Engine engine(durable::SqliteStore::open(db));
  engine.add(kApproval);
  const char* verb = approved ? "approval" : "rejection";
  switch (engine.resolve(kApproval, token, Decision{approved, std::move(reason)})) {
    case durable::ResolveOutcome::kResolved:
      say(std::string("resolved: the ") + verb +
          " is recorded; a waiting `run` picks it up (a stopped one when started again)");
      return kExitOk;
    case durable::ResolveOutcome::kAlreadyResolved:
      say("already resolved: an earlier decision stands; nothing changed");
      return kExitNotRecorded;
    case durable::ResolveOutcome::kTimedOut:
      say("timed out: the workflow stopped waiting for a decision; nothing changed");
      return kExitNotRecorded;
    case durable::ResolveOutcome::kExecutionFinished:
      say("finished: the execution has already ended; nothing changed");
      return kExitNotRecorded;
    case durable::ResolveOutcome::kNoSuchExecution:
      print_error("the token names an execution that '" + db + "' does not hold");
      return kExitError;
  }
  return kExitError;
}

int main_checked(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
  }
  if (args.empty()) throw UsageError("expected a command: run, approve or reject");
  const std::string command = args.front();
  args.erase(args.begin());
  try {
    if (command == "run") {
      return run(argv[0], parse_arguments(args, {"db", "task", "transport", "claude-path",
                                                 "approval-timeout", "cool-down"}));
    }
    if (command == "approve" || command == "reject") {
      return decide(parse_arguments(args, {"db", "reason"}), command == "approve");
    }
  } catch (const durable::InvalidToken& e) {
    print_error(std::string("invalid token: ") + e.what());
    return kExitError;
  } catch (const durable::StoreError& e) {
    print_error(std::string("database: ") + e.what());
    return kExitError;
  }
  throw UsageError("unknown command '" + command + "'");
}

}  // namespace
}  // namespace approval_gate

int main(int argc, char** argv) {
  try {
    return approval_gate::main_checked(argc, argv);
  } catch (const approval_gate::UsageError& e) {
    approval_gate::print_error(e.what());
    std::fputs("usage: approval_gate run|approve|reject ... (see --help)\n", stderr);
    return approval_gate::kExitUsage;
  } catch (const std::exception& e) {
    approval_gate::print_error(e.what());
    return approval_gate::kExitError;
  }
}
