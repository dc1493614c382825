#include "workflow.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "agents.hpp"
#include "duration.hpp"
#include "progress.hpp"

namespace approval_gate {
namespace {

using durable::Duration;
using durable::Task;
using durable::WorkflowContext;
using durable::claude::AgentRequest;
using durable::claude::AgentResult;

std::string g_program = "approval_gate";
std::string g_db;

std::string shell_quote(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-_./=:,+@%") == std::string::npos) {
    return text;
  }
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// A real deployment would notify a reviewer here; `run` prints the token once the wait for the
// decision is journaled (main.cpp), so publishing is only recorded.
const durable::Activity<void(std::string)> kPublishToken{
    std::string(kPublishActivity), [](std::string) { record_effect(kPublishActivity); }};

const durable::Activity<void(std::string)> kWithdrawPlan{
    std::string(kWithdrawActivity), [](durable::ActivityContext& actx, std::string plan) {
      record_effect(kWithdrawActivity);
      actx.report_progress(
          progress_entry(Step::kWithdrawing, fmt::format("compensation: {:.50}...", plan)));
    }};

// Reports a step on the execution's event stream (exactly once: a replay appends nothing again).
void report(WorkflowContext& ctx, Step step, std::string_view detail = {}) {
  ctx.report_progress(progress_entry(step, detail));
}

Task<Outcome> run_approval_gate(WorkflowContext& ctx, Request request) {
  const std::shared_ptr<const Agents> agents = make_agents(request);
  // Named requests: GCC 12 mishandles non-trivial temporaries inside co_await.
  const AgentRequest planning = plan_request(request);
  const AgentResult plan = co_await ctx.run(agents->plan, planning);
  if (plan.is_error || plan.text.empty()) {
    throw std::runtime_error("planning produced no plan (stop reason '" + plan.stop_reason + "')");
  }
  ctx.compensate(kWithdrawPlan, plan.text);
  report(ctx, Step::kPlanDrafted,
         fmt::format("{} lines from {}", std::count(plan.text.begin(), plan.text.end(), '\n') + 1,
                     plan.model.empty() ? request.transport : plan.model));

  const Duration timeout{request.approval_timeout_ms};
  co_await ctx.run(kPublishToken, ctx.token(kApproval));
  std::optional<Decision> decision = co_await ctx.await(kApproval, timeout);
  if (!decision) {
    const std::string why = "no decision within " + format_duration(timeout);
    report(ctx, Step::kRejected, "timed out: " + why);
    throw NotApproved("timed out: " + why);
  }
  if (!decision->approved) {
    report(ctx, Step::kRejected, "rejected: " + decision->reason);
    throw NotApproved("rejected: " + decision->reason);
  }
  report(ctx, Step::kApproved, decision->reason.empty() ? "no reason given" : decision->reason);

  const Duration cool_down{request.cool_down_ms};
  report(ctx, Step::kCoolingDown, format_duration(cool_down) + ", durably");
  co_await ctx.sleep("cool-down", cool_down);

  const AgentRequest carrying = carry_out_request(request, plan, *decision);
  const AgentResult result = co_await ctx.run(agents->carry_out, carrying);
  report(ctx, Step::kDone,
         result.is_error ? "ended early: " + result.stop_reason : "the plan is carried out");
  co_return Outcome{
      plan.text, decision->reason,
      result.is_error ? "(ended early: " + result.stop_reason + ") " + result.text : result.text};
}

}  // namespace

const durable::DurableDeferred<Decision> kApproval{"approval"};

const durable::Workflow<Outcome(Request)> kApprovalGate{
    "approval_gate", run_approval_gate, {.idempotency_key = [](const Request& request) {
      return request.task;
    }}};

void record_effect(std::string_view step) {
  const char* path = std::getenv("APPROVAL_GATE_EFFECTS_LOG");
  if (path == nullptr || *path == '\0') return;
  std::ofstream(path, std::ios::app) << step << '\n';
}

void set_command_context(std::string program, std::string db) {
  g_program = std::move(program);
  g_db = std::move(db);
}

void announce_token(const std::string& token) {
  const std::string prefix = shell_quote(g_program);
  const std::string db = shell_quote(g_db);
  say("approval token: " + token);
  say("to approve: " + prefix + " approve --db " + db + " " + token);
  say("to reject:  " + prefix + " reject --db " + db + " " + token + " --reason TEXT");
}

}  // namespace approval_gate
