// CliTransport: a query as one run of the Claude Code CLI, driven the way the Agent SDKs drive
// it: `claude --output-format stream-json --verbose --input-format stream-json` plus the request's
// options as flags, the prompt as one NDJSON line on stdin, NDJSON messages on stdout.
//
// The child inherits the environment (plus CLAUDE_CODE_ENTRYPOINT=sdk-cpp and `env`), runs in
// the request's cwd, in its own process group. On cancellation or timeout the group gets SIGTERM,
// then SIGKILL after `kill_grace`.
//
// Outcome: the `result` message gives the text, session, cost, usage and turns. Subtypes
// error_max_turns and error_max_budget_usd are results with is_error set (retrying would not
// help and the caller may want the partial answer); error_during_execution, a crash, or no result
// at all is a RetryableError; an API failure reported as `is_error` maps by its status (401 is a
// PermanentError, 429/5xx retryable); a missing executable is a PermanentError.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "durable/claude/transport.hpp"

namespace durable::claude {

struct CliOptions {
  std::string executable = "claude";                       // a path, or a name looked up in PATH
  std::vector<std::pair<std::string, std::string>> env{};  // added to (or replacing) inherited
  std::vector<std::string> extra_args{};
  std::chrono::milliseconds timeout{1'800'000};  // the whole run; zero means none
  std::chrono::milliseconds kill_grace{2'000};   // SIGTERM to SIGKILL
};

class CliTransport final : public Transport {
 public:
  explicit CliTransport(CliOptions options = {});

  AgentResult query(const AgentRequest& request, ActivityContext& ctx,
                    const EventSink& sink) override;

  // The argv (without the executable) a request turns into. For tests and logs.
  std::vector<std::string> arguments(const AgentRequest& request) const;

 private:
  CliOptions options_;
};

}  // namespace durable::claude
