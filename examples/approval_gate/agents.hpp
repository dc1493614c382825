// The Claude-backed steps of approval_gate: the two AgentActivities ("plan" and "carry_out")
// over the transport an execution uses, and the requests they send.
//
// The transport's name is part of the execution's input (Request::transport), so an execution
// keeps its transport across restarts whatever a later command line says. What is not journaled
// (the CLI's path, and the API key, which only the environment holds) comes from this process:
// configure_agents() before the engine starts.
//
// "Resuming the session" for the second query, per transport:
//   cli       Claude Code keeps sessions on disk: the carry-out query resumes the plan's session
//             (--resume with the session id from the plan's result) and only says "approved".
//   messages  the API keeps no sessions (a result's session_id is only its message id) and a
//             request is one user turn, so the conversation so far (the planning request and
//             the plan) is carried in the carry-out prompt.
//   offline   no sessions either; carried like messages. Its replies are canned and say
//             "[offline]".
#pragma once

#include <memory>
#include <string>

#include <durable/claude/agent_activity.hpp>

#include "workflow.hpp"

namespace approval_gate {

struct AgentSettings {
  std::string claude_path = "claude";  // the CLI transport's executable (a path or a PATH name)
};
void configure_agents(AgentSettings settings);

struct Agents {
  durable::claude::AgentActivity plan;
  durable::claude::AgentActivity carry_out;
};
// The activities for `request.transport`, reporting each attempt on the event stream and to the
// effects log. Throws std::invalid_argument for a transport name it does not know.
std::shared_ptr<const Agents> make_agents(const Request& request);

durable::claude::AgentRequest plan_request(const Request& request);
durable::claude::AgentRequest carry_out_request(const Request& request,
                                                const durable::claude::AgentResult& plan,
                                                const Decision& decision);

}  // namespace approval_gate
