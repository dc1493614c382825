// The approval_gate command line: `run` drives the workflow, `approve` and `reject` decide it from
// another process. No state lives outside the database, so a killed `run` is simply started again.
#include <algorithm>
#include <cstdio>
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

#include "duration.hpp"
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
  approval_gate run --db FILE --task TEXT [--transport offline|messages|cli] [--claude-path PATH]
                    [--approval-timeout DURATION] [--cool-down DURATION]
  approval_gate approve --db FILE TOKEN [--reason TEXT]
  approval_gate reject --db FILE TOKEN --reason TEXT
  approval_gate --help

run      starts the approval-gate workflow for TEXT (or re-attaches to the execution already
         started for the same task): plan, print the approval token, wait for a decision, then
         cool down and carry out the plan, or withdraw it. Runs until the execution ends and
         prints a report. Killed at any point and started again with the same arguments, it
         continues where it was.
approve  records an approval from another process (while run waits, or while nothing runs).
reject   records a rejection; the workflow withdraws its plan.

DURATION is a whole number and a unit: 500ms, 30s, 10m, 2h, 3d. Defaults: --approval-timeout 48h,
--cool-down 2s. Transports: only offline (the default) is available in this version.
Environment: APPROVAL_GATE_EFFECTS_LOG=FILE appends the name of each step to FILE as it runs.

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
  request.transport = args.get("transport").value_or(std::string(kAvailableTransport));
  if (std::find(kTransports.begin(), kTransports.end(), request.transport) == kTransports.end()) {
    throw UsageError("--transport must be offline, messages or cli, not '" + request.transport +
                     "'");
  }
  if (request.transport != kAvailableTransport) {
    throw UsageError("transport '" + request.transport +
                     "' is not available yet; this version runs only --transport offline");
  }
  const durable::Duration timeout =
      duration_option(args, "approval-timeout", kDefaultApprovalTimeout);
  if (timeout <= durable::Duration::zero()) throw UsageError("--approval-timeout must be positive");
  request.approval_timeout_ms = timeout.count();
  request.cool_down_ms = duration_option(args, "cool-down", kDefaultCoolDown).count();

  set_command_context(program, db);
  durable::EngineOptions options;
  options.on_fault = [](const std::string& message) { print_error("engine: " + message); };
  durable::Engine engine(durable::SqliteStore::open(db), options);
  engine.add(kApprovalGate);
  engine.add(kApproval);

  const durable::TimePoint before = engine.clock().now();
  const std::string id = engine.start(kApprovalGate, request).id();
  const auto record = engine.describe(id);
  // A re-attached execution keeps the request it was started with. The workflow is already
  // running, so its first progress line may come before these.
  const auto started_with = durable::Json::parse(record->input).get<Request>();
  say("transport: " + started_with.transport);
  if (record->created_at >= before) {
    say("execution: " + id + " (started)");
  } else if (durable::is_final(record->status)) {
    say("execution: " + id + " (re-attached; it has ended)");
  } else {
    std::string where(durable::to_string(record->status));
    if (!record->waiting_on.empty()) where += " on " + record->waiting_on;
    say("execution: " + id + " (re-attached; it was " + where + ")");
  }

  // Progress the workflow cannot print itself: the token again after a restart (announcing it
  // is once-only), and "waiting" only once the wait is journaled, so that it is true.
  std::optional<durable::ExecutionRecord> final_record;
  bool past_the_gate = false;
  while (!(final_record = engine.wait(id, kProgressPollInterval))) {
    if (past_the_gate) continue;
    Progress progress = read_progress(engine.history(id));
    if (progress.decided) {
      past_the_gate = true;
    } else if (progress.awaiting_approval) {
      if (progress.token) announce_token(*progress.token);
      say("waiting for approval" +
          (progress.deadline ? " until " + format_time(*progress.deadline) : std::string()));
      past_the_gate = true;
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
