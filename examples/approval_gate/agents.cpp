#include "agents.hpp"

#include <fmt/format.h>

#include <mutex>
#include <stdexcept>

#include <durable/claude/make_transport.hpp>

#include "progress.hpp"

namespace approval_gate {
namespace {

using durable::ActivityContext;
using durable::claude::AgentRequest;
using durable::claude::AgentResult;
using durable::claude::EventSink;
using durable::claude::Transport;

std::mutex g_settings_mutex;
AgentSettings g_settings;

AgentSettings settings() {
  std::lock_guard lock(g_settings_mutex);
  return g_settings;
}

constexpr const char* kSystem =
    "You are an engineering agent working behind a human approval gate: you draft a plan, a "
    "person approves or rejects it, and only then do you carry it out. Be concise.";

// FNV-1a: a stable fingerprint of the task, so the offline plan visibly depends on it.
std::uint32_t fingerprint(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : text) hash = (hash ^ c) * 16777619u;
  return hash;
}

// Wraps a transport to announce each attempt on the event stream and record it in the effects
// log (Claude's output reaches the stream through AgentActivity). Transparent otherwise: same
// result, same errors.
class ObservedTransport final : public Transport {
 public:
  ObservedTransport(std::shared_ptr<Transport> inner, std::string_view name, Step step,
                    std::string how)
      : inner_(std::move(inner)), name_(name), step_(step), how_(std::move(how)) {}

  AgentResult query(const AgentRequest& request, ActivityContext& ctx,
                    const EventSink& sink) override {
    std::string detail = request.resume_session_id.empty()
                             ? how_
                             : how_ + ", resuming session " + request.resume_session_id;
    if (ctx.attempt() > 1) detail += ", attempt " + std::to_string(ctx.attempt());
    ctx.report_progress(progress_entry(step_, detail, name_));
    record_effect(name_);
    return inner_->query(request, ctx, sink);
  }

 private:
  std::shared_ptr<Transport> inner_;
  std::string name_;
  Step step_;
  std::string how_;
};

std::shared_ptr<Transport> build(const Request& request, const std::string& offline_reply) {
  using durable::claude::TransportKind;
  durable::claude::TransportOptions options;
  // The transport was chosen when the execution started (and `run` said which): a key in the
  // environment does not make an offline execution call Claude.
  options.offline_despite_key = true;
  options.cli.executable = settings().claude_path;
  options.offline.script = {{.text = offline_reply}};
  if (request.transport == "messages") return make_transport(TransportKind::kMessages, options);
  if (request.transport == "cli") return make_transport(TransportKind::kCli, options);
  if (request.transport == "offline") return make_transport(TransportKind::kOffline, options);
  throw std::invalid_argument("unknown transport '" + request.transport + "'");
}

std::string how(const Request& request) {
  if (request.transport == "messages") return "asking Claude over the Messages API";
  if (request.transport == "cli") return "running Claude Code (" + settings().claude_path + ")";
  return "offline: a canned reply, no Claude call";
}

}  // namespace

void configure_agents(AgentSettings settings) {
  std::lock_guard lock(g_settings_mutex);
  g_settings = std::move(settings);
}

std::shared_ptr<const Agents> make_agents(const Request& request) {
  // Offline replies are fixed per task, so they are the same in every process and restart.
  const std::string offline_plan = fmt::format(
      "plan {:08x} for \"{}\":\n1. find the code the task touches\n2. make the change\n"
      "3. run the tests and summarise the diff",
      fingerprint(request.task), request.task);
  const std::string offline_result =
      "carried out all 3 steps of the plan; nothing was changed on disk";
  auto plan = std::make_shared<ObservedTransport>(build(request, offline_plan), kPlanActivity,
                                                  Step::kPlanning, how(request));
  auto carry_out = std::make_shared<ObservedTransport>(
      build(request, offline_result), kCarryOutActivity, Step::kExecuting, how(request));
  return std::make_shared<const Agents>(
      Agents{.plan = {std::string(kPlanActivity), std::move(plan)},
             .carry_out = {std::string(kCarryOutActivity), std::move(carry_out)}});
}

AgentRequest plan_request(const Request& request) {
  AgentRequest r;
  r.prompt =
      "Draft a short numbered plan (at most five steps) for the task below. Do not carry it out "
      "and change nothing yet: a person reviews the plan first.\n\nTask: " +
      request.task;
  r.max_tokens = 1024;
  if (request.transport == "cli") {
    r.permission_mode = "plan";  // Claude Code's read-only planning mode
  } else {
    r.system = kSystem;  // the CLI keeps its own system prompt (--system-prompt would replace it)
  }
  return r;
}

AgentRequest carry_out_request(const Request& request, const AgentResult& plan,
                               const Decision& decision) {
  const std::string approved =
      "The plan was approved" +
      (decision.reason.empty() ? std::string() : " (\"" + decision.reason + "\")") +
      ". Carry it out now, then report in a few lines what you did.";
  AgentRequest r;
  r.max_tokens = 2048;
  if (request.transport == "cli" && !plan.session_id.empty()) {
    r.resume_session_id = plan.session_id;
    r.prompt = approved;
    return r;
  }
  r.system = request.transport == "cli" ? std::string() : std::string(kSystem);
  r.prompt = "Earlier in this conversation you were asked:\n<request>\n" +
             plan_request(request).prompt + "\n</request>\nYou answered with this plan:\n<plan>\n" +
             plan.text + "\n</plan>\n\n" + approved;
  return r;
}

}  // namespace approval_gate
