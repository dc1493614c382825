#include "workflow.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "duration.hpp"

namespace approval_gate {
namespace {

using durable::Duration;
using durable::Task;
using durable::WorkflowContext;

std::mutex g_console_mutex;
std::once_flag g_token_once;
std::string g_program = "approval_gate";
std::string g_db;

// Lets the e2e tests count how often each step really ran, across processes and restarts.
void record_effect(std::string_view step) {
  const char* path = std::getenv("APPROVAL_GATE_EFFECTS_LOG");
  if (path == nullptr || *path == '\0') return;
  std::ofstream(path, std::ios::app) << step << '\n';
}

std::string shell_quote(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-_./=:,+@%") == std::string::npos) {
    return text;
  }
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// FNV-1a: a stable fingerprint of the task, so the offline plan visibly depends on it.
std::uint32_t fingerprint(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : text) hash = (hash ^ c) * 16777619u;
  return hash;
}

// --- offline transport: stands in for the Claude-backed steps ---------------------------------

std::string offline_plan(const std::string& task) {
  say("planning...");
  record_effect(kPlanActivity);
  std::string plan = fmt::format(
      "[offline] plan {:08x} for \"{}\": 1. find the code the task touches; 2. make the change; "
      "3. run the tests and summarise the diff",
      fingerprint(task), task);
  say("plan: " + plan);
  return plan;
}

std::string offline_carry_out(const std::string& plan) {
  say("carrying out the plan...");
  record_effect(kCarryOutActivity);
  const auto steps = std::count(plan.begin(), plan.end(), ';') + 1;
  return fmt::format("[offline] carried out all {} steps of the plan; nothing was changed on disk",
                     steps);
}

const durable::Activity<std::string(std::string)> kOfflinePlan{std::string(kPlanActivity),
                                                               offline_plan};
const durable::Activity<std::string(std::string)> kOfflineCarryOut{std::string(kCarryOutActivity),
                                                                   offline_carry_out};

// --- transport-independent steps --------------------------------------------------------------

// Offline, publishing is printing; a real deployment would notify a reviewer here.
const durable::Activity<void(std::string)> kPublishToken{std::string(kPublishActivity),
                                                         [](std::string token) {
                                                           record_effect(kPublishActivity);
                                                           announce_token(token);
                                                         }};

const durable::Activity<void(std::string)> kWithdrawPlan{
    std::string(kWithdrawActivity), [](std::string plan) {
      record_effect(kWithdrawActivity);
      say(fmt::format("withdrawing the plan (compensation): {:.60}...", plan));
    }};

// Prints from workflow code only when it runs live: a replay after a restart stays silent.
void say_live(WorkflowContext& ctx, const std::string& line) {
  if (!ctx.is_replaying()) say(line);
}

Task<Outcome> run_approval_gate(WorkflowContext& ctx, Request request) {
  if (request.transport != kAvailableTransport) {
    // `run` refuses other transports; this guards executions started by a newer version.
    throw std::runtime_error("transport '" + request.transport + "' is not available yet");
  }
  std::string plan = co_await ctx.run(kOfflinePlan, request.task);
  ctx.compensate(kWithdrawPlan, plan);

  const Duration timeout{request.approval_timeout_ms};
  co_await ctx.run(kPublishToken, ctx.token(kApproval));
  std::optional<Decision> decision = co_await ctx.await(kApproval, timeout);
  if (!decision) {
    throw NotApproved("timed out: no decision within " + format_duration(timeout));
  }
  if (!decision->approved) throw NotApproved("rejected: " + decision->reason);

  const Duration cool_down{request.cool_down_ms};
  say_live(ctx,
           "approved (" + decision->reason + "); cooling down for " + format_duration(cool_down));
  co_await ctx.sleep("cool-down", cool_down);
  std::string result = co_await ctx.run(kOfflineCarryOut, plan);
  co_return Outcome{plan, decision->reason, result};
}

}  // namespace

const durable::DurableDeferred<Decision> kApproval{"approval"};

const durable::Workflow<Outcome(Request)> kApprovalGate{
    "approval_gate", run_approval_gate, {.idempotency_key = [](const Request& request) {
      return request.task;
    }}};

void say(const std::string& line) {
  std::lock_guard lock(g_console_mutex);
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void set_command_context(std::string program, std::string db) {
  g_program = std::move(program);
  g_db = std::move(db);
}

void announce_token(const std::string& token) {
  std::call_once(g_token_once, [&] {
    const std::string prefix = shell_quote(g_program);
    const std::string db = shell_quote(g_db);
    say("approval token: " + token);
    say("to approve: " + prefix + " approve --db " + db + " " + token);
    say("to reject:  " + prefix + " reject --db " + db + " " + token + " --reason TEXT");
  });
}

}  // namespace approval_gate
