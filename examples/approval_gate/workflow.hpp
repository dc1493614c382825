// The approval_gate workflow: plan -> ask a person -> (cool down, carry out) or withdraw the plan.
//
// The steps that will later talk to Claude ("plan" and "carry out") are plain activities chosen by
// the request's transport, so an AgentActivity can replace them without touching the rest. Only
// the offline transport exists so far: it derives its texts from the task, deterministically.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <durable/durable.hpp>

namespace approval_gate {

struct Request {
  std::string task;  // also the idempotency key: the same task is the same execution
  std::string transport;
  std::int64_t approval_timeout_ms = 0;
  std::int64_t cool_down_ms = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Request, task, transport, approval_timeout_ms, cool_down_ms)

struct Decision {
  bool approved = false;
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Decision, approved, reason)

// The result of an approved execution.
struct Outcome {
  std::string plan;
  std::string reason;  // the approver's
  std::string result;  // what carrying out the plan reported
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Outcome, plan, reason, result)

// Ends the workflow when there is no approval. Failing (rather than returning) is what makes the
// engine run the registered compensations; the report tells this failure from any other by type.
class NotApproved : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
inline constexpr std::string_view kNotApprovedType = "approval_gate::NotApproved";

inline const std::vector<std::string> kTransports{"offline", "messages", "cli"};
inline constexpr std::string_view kAvailableTransport = "offline";

extern const durable::DurableDeferred<Decision> kApproval;
extern const durable::Workflow<Outcome(Request)> kApprovalGate;

// Activity names, as the journal records them.
inline constexpr std::string_view kPlanActivity = "plan";
inline constexpr std::string_view kPublishActivity = "publish_token";
inline constexpr std::string_view kCarryOutActivity = "carry_out";
inline constexpr std::string_view kWithdrawActivity = "withdraw_plan";

// Console output shared by the activities and the command line; one line at a time, flushed.
void say(const std::string& line);

// Prints the approval token and the commands that decide it, at most once per process: the
// publishing activity calls it, and so does `run` when it re-attaches to an execution that
// published its token before a restart. `program` and `db` make the printed commands exact.
void set_command_context(std::string program, std::string db);
void announce_token(const std::string& token);

}  // namespace approval_gate
