#include "durable/claude/types.hpp"

namespace durable::claude {

namespace {
// Reads `key` into `out` when present and not null; keeps the default otherwise.
template <class T>
void read(const nlohmann::json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) it->get_to(out);
}
}  // namespace

void to_json(nlohmann::json& j, const ToolSpec& v) {
  j = {{"name", v.name}, {"description", v.description}, {"input_schema", v.input_schema}};
}
void from_json(const nlohmann::json& j, ToolSpec& v) {
  read(j, "name", v.name);
  read(j, "description", v.description);
  read(j, "input_schema", v.input_schema);
}

void to_json(nlohmann::json& j, const AgentRequest& v) {
  j = {{"prompt", v.prompt},
       {"model", v.model},
       {"system", v.system},
       {"max_tokens", v.max_tokens},
       {"temperature", v.temperature},
       {"stop_sequences", v.stop_sequences},
       {"tools", v.tools},
       {"thinking_budget_tokens", v.thinking_budget_tokens},
       {"max_turns", v.max_turns},
       {"allowed_tools", v.allowed_tools},
       {"disallowed_tools", v.disallowed_tools},
       {"permission_mode", v.permission_mode},
       {"cwd", v.cwd},
       {"max_budget_usd", v.max_budget_usd},
       {"resume_session_id", v.resume_session_id}};
}
void from_json(const nlohmann::json& j, AgentRequest& v) {
  read(j, "prompt", v.prompt);
  read(j, "model", v.model);
  read(j, "system", v.system);
  read(j, "max_tokens", v.max_tokens);
  read(j, "temperature", v.temperature);
  read(j, "stop_sequences", v.stop_sequences);
  read(j, "tools", v.tools);
  read(j, "thinking_budget_tokens", v.thinking_budget_tokens);
  read(j, "max_turns", v.max_turns);
  read(j, "allowed_tools", v.allowed_tools);
  read(j, "disallowed_tools", v.disallowed_tools);
  read(j, "permission_mode", v.permission_mode);
  read(j, "cwd", v.cwd);
  read(j, "max_budget_usd", v.max_budget_usd);
  read(j, "resume_session_id", v.resume_session_id);
}

void to_json(nlohmann::json& j, const Usage& v) {
  j = {{"input_tokens", v.input_tokens},
       {"output_tokens", v.output_tokens},
       {"cache_creation_input_tokens", v.cache_creation_input_tokens},
       {"cache_read_input_tokens", v.cache_read_input_tokens}};
}
void from_json(const nlohmann::json& j, Usage& v) {
  read(j, "input_tokens", v.input_tokens);
  read(j, "output_tokens", v.output_tokens);
  read(j, "cache_creation_input_tokens", v.cache_creation_input_tokens);
  read(j, "cache_read_input_tokens", v.cache_read_input_tokens);
}

void to_json(nlohmann::json& j, const AgentResult& v) {
  j = {{"text", v.text},   {"session_id", v.session_id}, {"stop_reason", v.stop_reason},
       {"usage", v.usage}, {"cost_usd", v.cost_usd},     {"num_turns", v.num_turns},
       {"model", v.model}, {"is_error", v.is_error}};
}
void from_json(const nlohmann::json& j, AgentResult& v) {
  read(j, "text", v.text);
  read(j, "session_id", v.session_id);
  read(j, "stop_reason", v.stop_reason);
  read(j, "usage", v.usage);
  read(j, "cost_usd", v.cost_usd);
  read(j, "num_turns", v.num_turns);
  read(j, "model", v.model);
  read(j, "is_error", v.is_error);
}

}  // namespace durable::claude
