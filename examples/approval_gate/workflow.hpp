// The approval_gate workflow: plan (a Claude query) -> ask a person -> (cool down, carry out the
// plan in the same Claude session) or withdraw the plan.
//
// The Claude queries are durable::claude::AgentActivities over the transport the request names
// (agents.hpp); the rest does not depend on the transport.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <durable/durable.hpp>

namespace approval_gate {

struct Request {
  std::string task;       // also the idempotency key: the same task is the same execution
  std::string transport;  // messages | cli | offline, fixed when the execution starts
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

inline const std::vector<std::string> kTransports{"messages", "cli", "offline"};

extern const durable::DurableDeferred<Decision> kApproval;
extern const durable::Workflow<Outcome(Request)> kApprovalGate;

// Activity names, as the journal records them.
inline constexpr std::string_view kPlanActivity = "plan";
inline constexpr std::string_view kPublishActivity = "publish_token";
inline constexpr std::string_view kCarryOutActivity = "carry_out";
inline constexpr std::string_view kWithdrawActivity = "withdraw_plan";

// Appends `step` to $APPROVAL_GATE_EFFECTS_LOG, if set, each time a step really runs: lets the
// e2e tests count runs across processes and restarts.
void record_effect(std::string_view step);

// Prints the approval token and the commands that decide it; `run` calls it once the wait for the
// decision is journaled (or on re-attaching to an execution that waits). `program` and `db` make
// the printed commands exact.
void set_command_context(std::string program, std::string db);
void announce_token(const std::string& token);

}  // namespace approval_gate
