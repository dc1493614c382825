// The `durable` tool end to end: a real SQLite journal prepared by running workflows in-process
// (one completed, one failed, three waiting on a deferred, one parked as needing attention), and
// the real executable driven as a separate process on it.
#include <gtest/gtest.h>

#include <SQLiteCpp/Database.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "durable/durable.hpp"
#include "durable/sqlite_store.hpp"
#include "e2e/child_process.hpp"
#include "engine/token.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

// Generous: the tests also run under sanitizers on a loaded CI machine.
constexpr std::chrono::milliseconds kBound = 60s;

struct Decision {
  bool approved = false;
  std::string reason{};
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Decision, approved, reason)

// Tokens the gate workflow publishes, by the key it was started with.
std::mutex tokens_mutex;
std::map<std::string, std::string> published_tokens;

const Activity<std::string(std::string)> kGreet{"greet",
                                                [](std::string name) { return "hello, " + name; }};
const Activity<int(int)> kBoom{"boom",
                               [](int) -> int { throw std::runtime_error("boom"); },
                               {.retry = {.max_attempts = 2, .initial_backoff = 10ms}}};
const Activity<void(std::string, std::string)> kPublish{"publish",
                                                        [](std::string key, std::string token) {
                                                          std::lock_guard lock(tokens_mutex);
                                                          published_tokens[key] = std::move(token);
                                                        }};
const DurableDeferred<Decision> kApproval{"approval"};
const DurableDeferred<int> kNever{"never"};

const Workflow<std::string(std::string)> kHello{
    "hello", [](WorkflowContext& ctx, std::string name) -> Task<std::string> {
      co_return co_await ctx.run(kGreet, name);
    }};
const Workflow<int(int)> kFlaky{"flaky", [](WorkflowContext& ctx, int x) -> Task<int> {
                                  co_return co_await ctx.run(kBoom, x);
                                }};
const Workflow<std::string(std::string)> kGate{
    "gate", [](WorkflowContext& ctx, std::string key) -> Task<std::string> {
      co_await ctx.run(kPublish, key, ctx.token(kApproval));
      Decision d = co_await ctx.await(kApproval);
      co_return d.approved ? "approved: " + d.reason : "rejected: " + d.reason;
    }};
// Version 1 greets, then waits; version 2 (a bad deploy) does something else first, so an engine
// running it parks the execution version 1 started.
const Workflow<int(int)> kVersionedV1{"versioned", [](WorkflowContext& ctx, int x) -> Task<int> {
                                        co_await ctx.run(kGreet, std::string("v1"));
                                        co_return x + co_await ctx.await(kNever);
                                      }};
const Workflow<int(int)> kVersionedV2{"versioned", [](WorkflowContext& ctx, int x) -> Task<int> {
                                        co_await ctx.run(kBoom, x);
                                        co_return x + co_await ctx.await(kNever);
                                      }};

struct Finished {
  int status = -1;
  std::string out{}, err{};
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// An error is one line on stderr, starting with the tool's name.
void expect_one_error_line(const Finished& f, const std::string& contains) {
  EXPECT_EQ(std::count(f.err.begin(), f.err.end(), '\n'), 1) << f.err;
  EXPECT_EQ(f.err.rfind("durable: ", 0), 0u) << f.err;
  EXPECT_NE(f.err.find(contains), std::string::npos) << f.err;
}

// Positions of each needle in `text`, in order; fails if one is missing or out of order.
void expect_in_order(const std::string& text, const std::vector<std::string>& needles) {
  std::size_t at = 0;
  for (const auto& needle : needles) {
    std::size_t found = text.find(needle, at);
    ASSERT_NE(found, std::string::npos)
        << "'" << needle << "' missing after offset " << at << " in:\n"
        << text;
    at = found + needle.size();
  }
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class DurableCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "durable_cli.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = (dir_ / "journal.db").string();
    {
      std::lock_guard lock(tokens_mutex);
      published_tokens.clear();
    }
    prepare_journal();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static EngineOptions engine_options() {
    EngineOptions options;
    options.store_poll_interval = 10ms;
    return options;
  }

  // Runs the workflow set to the states the tests need, then stops every engine: the database is
  // left as a crashed or stopped host program would leave it.
  void prepare_journal() {
    {
      Engine engine(SqliteStore::open(db_), engine_options());
      engine.add(kHello);
      engine.add(kFlaky);
      engine.add(kGate);
      engine.add(kVersionedV1);
      engine.start();
      hello_ = engine.start(kHello, "ada").id();
      ASSERT_EQ(engine.wait(hello_, kBound)->status, ExecutionStatus::kCompleted);
      flaky_ = engine.start(kFlaky, 7).id();
      ASSERT_EQ(engine.wait(flaky_, kBound)->status, ExecutionStatus::kFailed);
      for (const char* key : {"a", "b", "c"}) {
        gates_[key] = engine.start(kGate, key, {.idempotency_key = key}).id();
      }
      versioned_ = engine.start(kVersionedV1, 1).id();
      engine.wait_idle();
    }
    {
      Engine engine(SqliteStore::open(db_), engine_options());
      engine.add(kGate);
      engine.add(kVersionedV2);
      engine.start();
      ASSERT_EQ(engine.wait(versioned_, kBound)->status, ExecutionStatus::kNeedsAttention);
      engine.wait_idle();
    }
    auto store = SqliteStore::open(db_);
    for (const auto& [key, id] : gates_) {
      ASSERT_EQ(store->get_execution(id)->status, ExecutionStatus::kWaiting) << key;
    }
  }

  Finished durable(std::vector<std::string> args) {
    args.insert(args.begin(), DURABLE_BIN);
    ChildProcess child(std::move(args));
    auto status = child.wait_exit(kBound);
    EXPECT_TRUE(status.has_value()) << "still running after " << kBound.count() << " ms";
    return {status.value_or(-1), child.out(), child.err()};
  }
  // `durable VERB --db <the journal> ARGS...`
  Finished on_db(const std::string& verb, std::vector<std::string> args = {}) {
    args.insert(args.begin(), {verb, "--db", db_});
    return durable(std::move(args));
  }
  Json json_of(const Finished& f) {
    EXPECT_EQ(f.status, 0) << f.err;
    Json parsed = Json::parse(f.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << f.out;
    return parsed;
  }

  static std::string token(const std::string& key) {
    std::lock_guard lock(tokens_mutex);
    return published_tokens.at(key);
  }
  ExecutionRecord record(const std::string& id) {
    return SqliteStore::open(db_)->get_execution(id).value();
  }

  std::filesystem::path dir_;
  std::string db_;
  std::string hello_, flaky_, versioned_;
  std::map<std::string, std::string> gates_;
};

std::vector<std::string> ids_in(const Json& listing) {
  std::vector<std::string> ids;
  for (const auto& e : listing.at("executions")) ids.push_back(e.at("id").get<std::string>());
  return ids;
}

TEST_F(DurableCliTest, ListShowsEveryExecutionInATable) {
  Finished f = on_db("list");
  ASSERT_EQ(f.status, 0) << f.err;
  auto lines = lines_of(f.out);
  ASSERT_EQ(lines.size(), 7u) << f.out;  // header + 6 executions
  EXPECT_EQ(lines[0].rfind("ID", 0), 0u) << lines[0];
  for (const char* column : {"WORKFLOW", "STATUS", "WAITING ON", "CREATED", "UPDATED"}) {
    EXPECT_NE(lines[0].find(column), std::string::npos) << lines[0];
  }
  auto row_of = [&](const std::string& id) {
    auto it = std::find_if(lines.begin(), lines.end(),
                           [&](const std::string& l) { return l.rfind(id, 0) == 0; });
    return it == lines.end() ? std::string() : *it;
  };
  EXPECT_NE(row_of(hello_).find("completed"), std::string::npos) << f.out;
  EXPECT_NE(row_of(flaky_).find("failed"), std::string::npos) << f.out;
  EXPECT_NE(row_of(versioned_).find("needs_attention"), std::string::npos) << f.out;
  EXPECT_NE(row_of(gates_["a"]).find("waiting"), std::string::npos) << f.out;
  EXPECT_NE(row_of(gates_["a"]).find("approval"), std::string::npos) << "waiting on: " << f.out;
  EXPECT_NE(row_of(hello_).find("Z"), std::string::npos) << "UTC ISO-8601 times: " << f.out;
}

TEST_F(DurableCliTest, ListAsJsonFiltersByStatusAndWorkflowAndPages) {
  Json all = json_of(on_db("list", {"--json"}));
  ASSERT_EQ(all.at("executions").size(), 6u) << all.dump(2);
  const Json& first = all["executions"][0];
  EXPECT_EQ(first.at("id"), hello_);
  EXPECT_EQ(first.at("status"), "completed");
  EXPECT_EQ(first.at("result"), "hello, ada");
  EXPECT_EQ(first.at("created_at").get<std::string>().back(), 'Z');

  Json waiting = json_of(on_db("list", {"--json", "--status", "waiting"}));
  std::vector<std::string> gate_ids{gates_["a"], gates_["b"], gates_["c"]};
  std::vector<std::string> got = ids_in(waiting);
  std::sort(got.begin(), got.end());
  std::sort(gate_ids.begin(), gate_ids.end());
  EXPECT_EQ(got, gate_ids);

  Json mixed = json_of(on_db("list", {"--json", "--status", "failed,needs_attention"}));
  EXPECT_EQ(mixed.at("executions").size(), 2u) << mixed.dump(2);
  Json by_workflow = json_of(on_db("list", {"--json", "--workflow", "hello"}));
  EXPECT_EQ(ids_in(by_workflow), std::vector<std::string>{hello_});

  Json page1 = json_of(on_db("list", {"--json", "--limit", "4"}));
  ASSERT_EQ(page1.at("executions").size(), 4u);
  std::string next = page1.at("next_page_token");
  ASSERT_FALSE(next.empty());
  Json page2 = json_of(on_db("list", {"--json", "--limit", "4", "--page-token", next}));
  EXPECT_EQ(page2.at("executions").size(), 2u);
  EXPECT_EQ(page2.at("next_page_token"), "");
}

TEST_F(DurableCliTest, ListRefusesAnUnknownStatusAsAUsageError) {
  Finished f = on_db("list", {"--status", "sleeping"});
  EXPECT_EQ(f.status, 2);
  expect_one_error_line(f, "sleeping");
}

TEST_F(DurableCliTest, ShowPrintsTheErrorAndTheRetriesAsATimelineInOrder) {
  Finished f = on_db("show", {flaky_});
  ASSERT_EQ(f.status, 0) << f.err;
  EXPECT_NE(f.out.find("status     failed"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("input      7"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("error      "), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("boom"), std::string::npos) << f.out;
  expect_in_order(
      f.out, {"history (6 events)", "started", "activity_started",
              "attempt 1 failed: std::runtime_error: boom; retry at 20", "activity_started",
              "activity_failed", "failed after 2 attempt(s): std::runtime_error: boom", "failed"});
}

TEST_F(DurableCliTest, ShowAsJsonHasTheInputResultAndHistory) {
  Json shown = json_of(on_db("show", {hello_, "--json"}));
  EXPECT_EQ(shown.at("execution").at("input"), "ada");
  EXPECT_EQ(shown.at("execution").at("result"), "hello, ada");
  std::vector<std::string> types;
  for (const auto& e : shown.at("history")) types.push_back(e.at("type"));
  EXPECT_EQ(types, (std::vector<std::string>{"started", "activity_started", "activity_completed",
                                             "completed"}));
}

TEST_F(DurableCliTest, ShowOfAParkedExecutionNamesTheMismatch) {
  Finished f = on_db("show", {versioned_});
  ASSERT_EQ(f.status, 0) << f.err;
  EXPECT_NE(f.out.find("needs_attention"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("activity 'greet'"), std::string::npos) << f.out;
}

TEST_F(DurableCliTest, AnUnknownExecutionIsOneErrorLineForEveryVerb) {
  for (const char* verb : {"show", "events", "cancel", "resume"}) {
    Finished f = on_db(verb, {"no-such-id"});
    EXPECT_EQ(f.status, 1) << verb;
    expect_one_error_line(f, "no-such-id");
  }
}

TEST_F(DurableCliTest, EventsJournalPrintsOneLinePerJournalEvent) {
  Finished f = on_db("events", {flaky_, "--journal"});
  ASSERT_EQ(f.status, 0) << f.err;
  auto lines = lines_of(f.out);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(record(flaky_).next_index)) << f.out;
  EXPECT_EQ(lines.front().rfind("#0  ", 0), 0u) << lines.front();
  EXPECT_NE(lines.back().find("failed"), std::string::npos) << lines.back();

  Finished json = on_db("events", {flaky_, "--journal", "--json"});
  ASSERT_EQ(json.status, 0) << json.err;
  auto json_lines = lines_of(json.out);
  ASSERT_EQ(json_lines.size(), lines.size());
  for (std::size_t i = 0; i < json_lines.size(); ++i) {
    Json event = Json::parse(json_lines[i]);
    EXPECT_EQ(event.at("index"), i);
  }
}

TEST_F(DurableCliTest, EventsPrintsTheEventStreamWithStatusChanges) {
  Finished f = on_db("events", {flaky_});
  ASSERT_EQ(f.status, 0) << f.err;
  auto lines = lines_of(f.out);
  ASSERT_GE(lines.size(), 2u) << f.out;
  EXPECT_EQ(lines.front().rfind("#0  ", 0), 0u) << lines.front();
  EXPECT_NE(lines.front().find("status    started"), std::string::npos) << lines.front();
  EXPECT_NE(lines.back().find("failed"), std::string::npos) << lines.back();

  Finished json = on_db("events", {flaky_, "--json", "--from", "1"});
  ASSERT_EQ(json.status, 0) << json.err;
  auto json_lines = lines_of(json.out);
  ASSERT_EQ(json_lines.size(), lines.size() - 1);
  for (std::size_t i = 0; i < json_lines.size(); ++i) {
    Json entry = Json::parse(json_lines[i]);
    EXPECT_EQ(entry.at("offset"), i + 1);
    EXPECT_TRUE(entry.at("kind").is_string());
  }
  EXPECT_EQ(Json::parse(json_lines.back()).at("data").at("status"), "failed");
}

TEST_F(DurableCliTest, EventsFollowEndsOnceTheWaitingExecutionIsResolved) {
  const std::string id = gates_["a"];
  // The host program, running again: it picks up the resolution `durable resolve` writes.
  Engine engine(SqliteStore::open(db_), engine_options());
  engine.add(kGate);
  engine.add(kApproval);
  engine.add(kVersionedV2);
  engine.start();

  ChildProcess follow({DURABLE_BIN, "events", "--db", db_, id, "--follow", "--journal"});
  // Events 0-3: started, publish started and completed, deferred_awaited.
  auto awaited = follow.wait_for_line("#3  ", kBound);
  ASSERT_TRUE(awaited.has_value()) << follow.out() << follow.err();
  EXPECT_NE(awaited->find("deferred_awaited"), std::string::npos) << *awaited;
  EXPECT_FALSE(follow.wait_exit(0ms).has_value()) << "follow ended while the execution waits";

  Finished resolved = on_db("resolve", {token("a"), R"({"approved": true, "reason": "ok"})"});
  EXPECT_EQ(resolved.status, 0) << resolved.err;
  EXPECT_EQ(resolved.out.rfind("resolved", 0), 0u) << resolved.out;

  auto status = follow.wait_exit(kBound);
  ASSERT_TRUE(status.has_value()) << "follow did not end:\n" << follow.out();
  EXPECT_EQ(*status, 0) << follow.err();
  expect_in_order(follow.out(), {"deferred_awaited", "deferred_resolved", "completed"});
  EXPECT_EQ(engine.wait(id, kBound)->result, R"("approved: ok")");
}

TEST_F(DurableCliTest, EventsFollowPrintsTheStreamLiveUntilTheExecutionEnds) {
  const std::string id = gates_["b"];
  Engine engine(SqliteStore::open(db_), engine_options());
  engine.add(kGate);
  engine.add(kApproval);
  engine.add(kVersionedV2);
  engine.start();

  ChildProcess follow({DURABLE_BIN, "events", "--db", db_, id, "--follow"});
  // Entries 0-1: started, waiting on the approval.
  auto waiting = follow.wait_for_line("#1  ", kBound);
  ASSERT_TRUE(waiting.has_value()) << follow.out() << follow.err();
  EXPECT_NE(waiting->find("waiting  deferred 'approval'"), std::string::npos) << *waiting;
  EXPECT_FALSE(follow.wait_exit(0ms).has_value()) << "follow ended while the execution waits";

  Finished resolved = on_db("resolve", {token("b"), R"({"approved": false, "reason": "no"})"});
  EXPECT_EQ(resolved.status, 0) << resolved.err;
  auto status = follow.wait_exit(kBound);
  ASSERT_TRUE(status.has_value()) << "follow did not end:\n" << follow.out();
  EXPECT_EQ(*status, 0) << follow.err();
  expect_in_order(follow.out(), {"started", "waiting", "running", "completed"});
}

TEST_F(DurableCliTest, ResolveRefusesBadJsonAndChangesNothing) {
  Finished f = on_db("resolve", {token("a"), "{approved: yes"});
  EXPECT_EQ(f.status, 1);
  expect_one_error_line(f, "not valid JSON");
  EXPECT_FALSE(SqliteStore::open(db_)->get_deferred(gates_["a"], "approval").has_value());
}

TEST_F(DurableCliTest, ResolveRefusesAForgedOrMalformedToken) {
  std::string forged = token("a");
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  for (const std::string& bad : {forged, std::string("not-a-token")}) {
    Finished f = on_db("resolve", {bad, "true"});
    EXPECT_EQ(f.status, 1) << bad;
    expect_one_error_line(f, "invalid token");
  }
  EXPECT_FALSE(SqliteStore::open(db_)->get_deferred(gates_["a"], "approval").has_value());
}

TEST_F(DurableCliTest, ResolveOfATokenForAnExecutionTheStoreDoesNotHoldIsAnError) {
  std::string secret = SqliteStore::open(db_)->token_secret();
  std::string orphan = detail::encode_token({"gate-gone", "approval"}, secret);
  Finished f = on_db("resolve", {orphan, "true"});
  EXPECT_EQ(f.status, 1);
  expect_one_error_line(f, "does not hold");
}

TEST_F(DurableCliTest, ResolvingTwiceKeepsTheFirstAndExitsWith3) {
  Json first =
      json_of(on_db("resolve", {token("b"), R"({"approved": true, "reason": "yes"})", "--json"}));
  EXPECT_EQ(first.at("outcome"), "resolved");
  Finished again = on_db("resolve", {token("b"), R"({"approved": false, "reason": "no"})"});
  EXPECT_EQ(again.status, 3) << again.err;
  EXPECT_NE(again.out.find("already resolved"), std::string::npos) << again.out;
  auto stored = SqliteStore::open(db_)->get_deferred(gates_["b"], "approval");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(Json::parse(stored->value).at("reason"), "yes");
}

TEST_F(DurableCliTest, RejectResolvesWithApprovedFalseAndTheReason) {
  Finished f = on_db("reject", {token("c"), "too risky"});
  EXPECT_EQ(f.status, 0) << f.err;
  auto stored = SqliteStore::open(db_)->get_deferred(gates_["c"], "approval");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(Json::parse(stored->value), (Json{{"approved", false}, {"reason", "too risky"}}));
}

TEST_F(DurableCliTest, CancelRequestsOnceAndThenReportsThatNothingChanged) {
  Finished f = on_db("cancel", {gates_["c"]});
  EXPECT_EQ(f.status, 0) << f.err;
  EXPECT_TRUE(record(gates_["c"]).cancel_requested);
  Finished again = on_db("cancel", {gates_["c"], "--json"});
  EXPECT_EQ(again.status, 3) << again.err;
  EXPECT_EQ(Json::parse(again.out).at("outcome"), "already_requested");
  Finished done = on_db("cancel", {hello_});
  EXPECT_EQ(done.status, 3) << done.err;
  EXPECT_NE(done.out.find("finished"), std::string::npos) << done.out;
}

TEST_F(DurableCliTest, ResumeOfAnExecutionThatIsNotParkedIsAnError) {
  Finished f = on_db("resume", {hello_});
  EXPECT_EQ(f.status, 1);
  expect_one_error_line(f, "needs attention");
  EXPECT_EQ(record(hello_).status, ExecutionStatus::kCompleted);
}

TEST_F(DurableCliTest, ResumeOfAParkedExecutionMarksItRunning) {
  Finished f = on_db("resume", {versioned_});
  EXPECT_EQ(f.status, 0) << f.err;
  EXPECT_EQ(record(versioned_).status, ExecutionStatus::kRunning);
}

TEST_F(DurableCliTest, RestartPrintsTheNewIdAndAnEngineRunsTheRestartedSteps) {
  Finished f = on_db("restart", {flaky_, "--from-step", "0"});
  ASSERT_EQ(f.status, 0) << f.err;
  auto lines = lines_of(f.out);
  ASSERT_EQ(lines.size(), 1u) << f.out;
  const std::string fork = lines[0];
  ExecutionRecord forked = record(fork);
  EXPECT_EQ(forked.forked_from, flaky_);
  EXPECT_EQ(forked.status, ExecutionStatus::kRunning);
  EXPECT_EQ(forked.workflow, "flaky");

  Json json =
      json_of(on_db("restart", {hello_, "--from-step", "1", "--id", "hello-again", "--json"}));
  EXPECT_EQ(json.at("execution"), "hello-again");
  EXPECT_EQ(json.at("forked_from"), hello_);
  // The host program, running again: step 0 (greet) of hello is replayed, the fork completes.
  Engine engine(SqliteStore::open(db_), engine_options());
  engine.add(kHello);
  engine.add(kFlaky);
  engine.add(kGate);
  engine.add(kVersionedV2);
  engine.start();
  auto done = engine.wait("hello-again", kBound);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->result, R"("hello, ada")");
  EXPECT_EQ(engine.wait(fork, kBound)->status, ExecutionStatus::kFailed);
  Json shown = json_of(on_db("show", {"hello-again", "--json"}));
  EXPECT_EQ(shown.at("execution").at("forked_from"), hello_);
}

TEST_F(DurableCliTest, RestartRefusesBadInputWithOneLineAndChangesNothing) {
  Finished unknown = on_db("restart", {"no-such-id", "--from-step", "0"});
  EXPECT_EQ(unknown.status, 1);
  expect_one_error_line(unknown, "no-such-id");
  Finished range = on_db("restart", {hello_, "--from-step", "7"});
  EXPECT_EQ(range.status, 1);
  expect_one_error_line(range, "between 0 and 1");
  Finished running = on_db("restart", {gates_["a"], "--from-step", "0"});
  EXPECT_EQ(running.status, 1);
  expect_one_error_line(running, "has not stopped");
  Finished taken = on_db("restart", {hello_, "--from-step", "0", "--id", flaky_});
  EXPECT_EQ(taken.status, 1);
  expect_one_error_line(taken, "exists");
  Finished no_step = on_db("restart", {hello_});
  EXPECT_EQ(no_step.status, 2);
  expect_one_error_line(no_step, "--from-step");
  Finished negative = on_db("restart", {hello_, "--from-step", "-1"});
  EXPECT_EQ(negative.status, 2);
  EXPECT_EQ(json_of(on_db("list", {"--json"})).at("executions").size(), 6u);
}

TEST_F(DurableCliTest, PruneDeletesOnlyFinishedExecutionsOlderThanTheDuration) {
  Finished none = on_db("prune", {"--older-than", "1d"});
  ASSERT_EQ(none.status, 0) << none.err;
  EXPECT_NE(none.out.find("deleted 0 executions"), std::string::npos) << none.out;
  Json json = json_of(on_db("prune", {"--older-than", "0s", "--json"}));
  EXPECT_EQ(json.at("deleted"), 2) << "hello (completed) and flaky (failed)";
  Json left = json_of(on_db("list", {"--json"}));
  std::vector<std::string> ids = ids_in(left);
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), hello_), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), versioned_), 1) << "needs attention: kept";

  Finished bad = on_db("prune", {"--older-than", "soon"});
  EXPECT_EQ(bad.status, 2);
  expect_one_error_line(bad, "not a duration");
  Finished missing = on_db("prune");
  EXPECT_EQ(missing.status, 2);
  expect_one_error_line(missing, "--older-than");
}

TEST_F(DurableCliTest, ListFiltersByCreationTime) {
  Json all = json_of(on_db("list", {"--json"}));
  ASSERT_EQ(all.at("executions").size(), 6u);
  const std::string third = all["executions"][2].at("created_at");
  Json after = json_of(on_db("list", {"--json", "--created-after", third}));
  EXPECT_GE(after.at("executions").size(), 4u) << "the third and later (inclusive bound)";
  Json before = json_of(on_db("list", {"--json", "--created-before", third}));
  EXPECT_EQ(after.at("executions").size() + before.at("executions").size(), 6u);
  Json recent = json_of(on_db("list", {"--json", "--created-after", "1h"}));
  EXPECT_EQ(recent.at("executions").size(), 6u);
  Json future = json_of(on_db("list", {"--json", "--created-before", "1h"}));
  EXPECT_EQ(future.at("executions").size(), 0u);
  Finished bad = on_db("list", {"--created-after", "yesterday"});
  EXPECT_EQ(bad.status, 2);
  expect_one_error_line(bad, "--created-after 'yesterday'");
}

TEST_F(DurableCliTest, AMissingDatabaseIsAnErrorAndIsNotCreated) {
  const std::string missing = (dir_ / "missing.db").string();
  Finished f = durable({"list", "--db", missing});
  EXPECT_EQ(f.status, 1);
  expect_one_error_line(f, "no database at");
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST_F(DurableCliTest, ANewerFormatDatabaseIsRefusedAndLeftUnchanged) {
  const std::string newer = (dir_ / "newer.db").string();
  std::filesystem::copy_file(db_, newer);
  {
    SQLite::Database db(newer, SQLite::OPEN_READWRITE);
    db.exec("UPDATE meta SET value = 99 WHERE key = 'schema_version'");
  }
  const std::string before = file_bytes(newer);
  Finished f = durable({"list", "--db", newer});
  EXPECT_EQ(f.status, 1);
  expect_one_error_line(f, "schema version 99 is newer");
  EXPECT_EQ(file_bytes(newer), before);
}

TEST_F(DurableCliTest, ALockedDatabaseIsReportedAsBusy) {
  SQLite::Database locker(db_, SQLite::OPEN_READWRITE);
  locker.exec("BEGIN EXCLUSIVE");
  Finished f = on_db("cancel", {gates_["a"], "--busy-timeout", "100"});
  locker.exec("ROLLBACK");
  EXPECT_EQ(f.status, 1);
  expect_one_error_line(f, "locked");
  EXPECT_NE(f.err.find("try again"), std::string::npos) << f.err;
  EXPECT_FALSE(record(gates_["a"]).cancel_requested);
}

TEST_F(DurableCliTest, HelpListsTheVerbsAndTheExitCodes) {
  Finished help = durable({"--help"});
  EXPECT_EQ(help.status, 0);
  for (const char* verb :
       {"list", "show", "events", "resolve", "reject", "cancel", "resume", "restart", "prune"}) {
    EXPECT_NE(help.out.find(verb), std::string::npos) << verb;
  }
  EXPECT_NE(help.out.find("Exit status"), std::string::npos) << help.out;
  Finished verb_help = durable({"resolve", "--help"});
  EXPECT_EQ(verb_help.status, 0);
  EXPECT_NE(verb_help.out.find("TOKEN"), std::string::npos) << verb_help.out;
  EXPECT_NE(verb_help.out.find("JSON"), std::string::npos) << verb_help.out;

  Finished unknown = durable({"frobnicate"});
  EXPECT_EQ(unknown.status, 2);
  expect_one_error_line(unknown, "unknown verb 'frobnicate'");
  Finished nothing = durable({});
  EXPECT_EQ(nothing.status, 2);
}

}  // namespace
}  // namespace durable
