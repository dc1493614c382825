// The fixture for driving examples/approval_gate end to end: the real executable as separate
// processes on a temporary SQLite database, with helpers to decide, read the report and count
// how often each step ran.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "durable/sqlite_store.hpp"
#include "e2e/child_process.hpp"

namespace durable::testing {

using namespace std::chrono_literals;

// Generous: the tests also run under sanitizers on a loaded CI machine.
constexpr std::chrono::milliseconds kBound = 60s;

struct Finished {
  int status = -1;
  std::string out, err;
};

class ApprovalGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "approval_gate.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = (dir_ / "gate.db").string();
    effects_ = (dir_ / "effects.log").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The child never sees this machine's Claude credentials or endpoint (a test that wants a
  // transport sets env_); APPROVAL_GATE_EFFECTS_LOG counts the steps.
  std::unique_ptr<ChildProcess> spawn(std::vector<std::string> args) {
    args.insert(args.begin(), APPROVAL_GATE_BIN);
    std::vector<std::string> env{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL",
                                 "APPROVAL_GATE_EFFECTS_LOG=" + effects_};
    env.insert(env.end(), env_.begin(), env_.end());
    return std::make_unique<ChildProcess>(std::move(args), std::move(env));
  }
  std::unique_ptr<ChildProcess> start_run(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"run", "--db", db_, "--task", kTask, "--cool-down", "300ms"};
    args.insert(args.end(), extra.begin(), extra.end());
    return spawn(std::move(args));
  }
  Finished finish(ChildProcess& child) {
    auto status = child.wait_exit(kBound);
    EXPECT_TRUE(status.has_value()) << "still running after " << kBound.count() << " ms:\n"
                                    << child.out() << child.err();
    return {status.value_or(-1), child.out(), child.err()};
  }
  Finished run_to_end(std::vector<std::string> args) { return finish(*spawn(std::move(args))); }
  Finished decide(const std::string& verb, const std::string& token, const std::string& reason) {
    return run_to_end({verb, "--db", db_, token, "--reason", reason});
  }

  static std::string token_of(ChildProcess& run) {
    auto token = run.wait_for_line("approval token: ", kBound);
    EXPECT_TRUE(token.has_value()) << "no token line:\n" << run.out() << run.err();
    return token.value_or("");
  }
  static std::string execution_id_of(ChildProcess& run) {
    auto line = run.wait_for_line("execution: ", kBound).value_or("");
    return line.substr(0, line.find(' '));
  }
  // The report block: from "report: " to the end of the output.
  static std::string report_of(const std::string& out) {
    auto at = out.find("report: ");
    return at == std::string::npos ? "" : out.substr(at);
  }
  // How many times each step ran, from the side-effect log the example keeps for tests.
  std::map<std::string, int> effects() {
    std::map<std::string, int> counts;
    std::ifstream in(effects_);
    for (std::string line; std::getline(in, line);) ++counts[line];
    return counts;
  }
  // How many attempts of each activity the journal holds.
  std::map<std::string, int> journaled_attempts(const std::string& id) {
    std::map<std::string, int> counts;
    for (const Event& e : SqliteStore::open(db_)->load_events(id, 0)) {
      if (e.type == EventType::kActivityStarted) ++counts[e.name];
    }
    return counts;
  }

  // Whether `text` occurs in any file of the test's directory (the database, its WAL, logs).
  bool any_file_contains(const std::string& text) {
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (bytes.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // `out` has lines starting with each of `prefixes`, in that order.
  static bool in_order(const std::string& out, const std::vector<std::string>& prefixes) {
    const std::string text = "\n" + out;
    std::size_t at = 0;
    for (const auto& prefix : prefixes) {
      at = text.find("\n" + prefix, at);
      if (at == std::string::npos) return false;
      ++at;
    }
    return true;
  }

  static inline const std::string kTask = "rename the --verbose flag to --log-level";
  std::filesystem::path dir_;
  std::string db_, effects_;
  std::vector<std::string> env_;  // added to every child's environment
};

}  // namespace durable::testing
