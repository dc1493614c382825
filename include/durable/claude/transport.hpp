// Transport: how one Claude query is carried out (Messages API, Claude Code CLI, offline).
//
// A transport is shared by every attempt of every AgentActivity that uses it, on any worker
// thread at once: query() must be safe to call concurrently.
#pragma once

#include "durable/activity.hpp"
#include "durable/claude/event_sink.hpp"
#include "durable/claude/types.hpp"

namespace durable::claude {

class Transport {
 public:
  virtual ~Transport() = default;

  // Performs the query and returns its result, streaming to `sink` as it goes. Throws
  // RetryableError or PermanentError (see errors.hpp). Returns early, throwing RetryableError,
  // once ctx.cancelled() turns true. ctx.idempotency_key() identifies the query across attempts.
  virtual AgentResult query(const AgentRequest& request, ActivityContext& ctx,
                            const EventSink& sink) = 0;
};

}  // namespace durable::claude
