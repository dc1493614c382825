// The values an AgentActivity takes and journals: AgentRequest in, AgentResult out.
//
// Both are plain aggregates with ADL to_json/from_json, so they are activity inputs and results
// like any other storable type. Decoding tolerates missing keys (each takes its default), so a
// journal written by an older version keeps replaying after fields are added.
//
// Neither ever holds a secret: API keys and tokens live in the transport's options or the
// environment, never in what is journaled.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "durable/codec.hpp"  // std::optional as null-or-value

namespace durable::claude {

// A tool the model may call (Messages API `tools`).
struct ToolSpec {
  std::string name{};
  std::string description{};
  nlohmann::json input_schema = nlohmann::json::object();
};

// One Claude query. The first group applies to both transports; the second to agent runs (the
// CLI); max_turns also bounds the Messages transport's tool-use loop.
struct AgentRequest {
  std::string prompt{};
  std::string model{};   // empty: the transport's default
  std::string system{};  // system prompt; empty: none (the CLI keeps its own)
  int max_tokens = 1024;
  std::optional<double> temperature{};
  std::vector<std::string> stop_sequences{};
  std::vector<ToolSpec> tools{};
  // Extended thinking (Messages API `thinking: {type: enabled, budget_tokens}`); unset: off. The
  // API wants at least 1024 and less than max_tokens, and no temperature with it. The CLI
  // transport does not pass it (the CLI chooses its own thinking budget).
  std::optional<int> thinking_budget_tokens{};

  int max_turns = 0;  // 0: the transport's default
  std::vector<std::string> allowed_tools{};
  std::vector<std::string> disallowed_tools{};
  std::string permission_mode{};  // default | acceptEdits | plan | bypassPermissions
  std::string cwd{};              // the CLI child's working directory; empty: inherited
  std::optional<double> max_budget_usd{};
  std::string resume_session_id{};
};

struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cache_creation_input_tokens = 0;
  std::int64_t cache_read_input_tokens = 0;
};

// The small result that is journaled. Transcripts and stream chunks go to the EventSink.
struct AgentResult {
  std::string text{};         // the final assistant text
  std::string session_id{};   // the CLI's session (resumable); the last message id over the API
  std::string stop_reason{};  // end_turn, max_tokens, tool_use, … or a CLI result subtype
  Usage usage{};
  std::optional<double> cost_usd{};  // when the transport knows it (the CLI reports it)
  int num_turns = 0;
  std::string model{};
  bool is_error = false;  // the query ended in an error the caller should look at (e.g. max turns)
};

void to_json(nlohmann::json& j, const ToolSpec& v);
void from_json(const nlohmann::json& j, ToolSpec& v);
void to_json(nlohmann::json& j, const AgentRequest& v);
void from_json(const nlohmann::json& j, AgentRequest& v);
void to_json(nlohmann::json& j, const Usage& v);
void from_json(const nlohmann::json& j, Usage& v);
void to_json(nlohmann::json& j, const AgentResult& v);
void from_json(const nlohmann::json& j, AgentResult& v);

}  // namespace durable::claude
