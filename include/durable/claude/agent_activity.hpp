// AgentActivity: an Activity that performs one Claude query through a Transport.
//
//   auto transport = std::make_shared<durable::claude::MessagesTransport>();
//   const durable::claude::AgentActivity ask{"ask", transport};
//   ... AgentResult r = co_await ctx.run(ask, AgentRequest{.prompt = "…"});
//
// Crash semantics (those of every activity): a query interrupted by a crash or a stop runs again
// on recovery, so a query runs at least once; a completed query's result is journaled and never
// re-run. The activity's idempotency key (stable across attempts and restarts) is sent with the
// request (`metadata.user_id` over the API).
//
// The default retry policy follows the official SDKs: 3 attempts, backoff from 500 ms doubling up
// to 8 s. It is durable time, so a server's retry-after is reported in the error but not obeyed.
#pragma once

#include <memory>
#include <string>

#include "durable/activity.hpp"
#include "durable/claude/errors.hpp"
#include "durable/claude/event_sink.hpp"
#include "durable/claude/transport.hpp"
#include "durable/claude/types.hpp"

namespace durable::claude {

inline ActivityOptions default_agent_activity_options() {
  return {.retry = {.max_attempts = 3,
                    .initial_backoff = Duration{500},
                    .multiplier = 2.0,
                    .max_backoff = Duration{8'000}},
          .timeout = Duration{0}};
}

struct AgentActivityOptions {
  ActivityOptions activity = default_agent_activity_options();
  EventSink sink{};  // empty: events are discarded
};

class AgentActivity : public Activity<AgentResult(AgentRequest)> {
 public:
  AgentActivity(std::string name, std::shared_ptr<Transport> transport,
                AgentActivityOptions options = {})
      : Activity<AgentResult(AgentRequest)>(
            std::move(name), make_function(std::move(transport), std::move(options.sink)),
            std::move(options.activity)) {}

 private:
  static Function make_function(std::shared_ptr<Transport> transport, EventSink sink) {
    if (!sink) sink = discard_events();
    return [transport = std::move(transport), sink = std::move(sink)](ActivityContext& ctx,
                                                                      AgentRequest request) {
      return transport->query(request, ctx, sink);
    };
  }
};

}  // namespace durable::claude
