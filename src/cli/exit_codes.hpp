// The `durable` tool's exit codes, the contract scripts rely on (docs/operations.md). They match
// examples/approval_gate: 0 ok, 1 error, 2 usage, 3 nothing changed.
#pragma once

#include <stdexcept>
#include <string>

namespace durable::cli {

inline constexpr int kExitOk = 0;
// No such execution, a bad token or JSON value, a missing, locked or newer-format database...
inline constexpr int kExitError = 1;
// The command line itself is wrong: unknown verb or option, missing or malformed argument.
inline constexpr int kExitUsage = 2;
// The request was valid but changed nothing: already resolved, timed out, already finished,
// cancel already requested.
inline constexpr int kExitNothingChanged = 3;

// An error reported as one line on stderr ("durable: <what>") with a chosen exit code.
class CliError : public std::runtime_error {
 public:
  explicit CliError(const std::string& what, int exit_code = kExitError)
      : std::runtime_error(what), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace durable::cli
