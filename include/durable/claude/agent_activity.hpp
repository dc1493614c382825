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
// What Claude says while the query runs goes to the execution's event stream (StreamPublisher),
// and, if given, to a caller's EventSink.
//
// The default retry policy follows the official SDKs: 3 attempts, backoff from 500 ms doubling up
// to 8 s. It is durable time, so a server's retry-after is reported in the error but not obeyed.
#pragma once

#include <memory>
#include <string>

#include "durable/activity.hpp"
#include "durable/claude/errors.hpp"
#include "durable/claude/event_sink.hpp"
#include "durable/claude/stream_publisher.hpp"
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
  // Publish the query's stream to the execution's event stream as it arrives (StreamPublisher
  // lists the entries); subscribers follow it with Engine::subscribe or `durable events --follow`.
  bool publish_to_stream = true;
  EventSink sink{};  // also called with every stream event; empty: none
};

class AgentActivity : public Activity<AgentResult(AgentRequest)> {
 public:
  AgentActivity(std::string name, std::shared_ptr<Transport> transport,
                AgentActivityOptions options = {})
      : Activity<AgentResult(AgentRequest)>(
            std::move(name),
            make_function(std::move(transport), std::move(options.sink), options.publish_to_stream),
            std::move(options.activity)) {}

 private:
  static Function make_function(std::shared_ptr<Transport> transport, EventSink sink,
                                bool publish) {
    if (!sink) sink = discard_events();
    return [transport = std::move(transport), sink = std::move(sink), publish](
               ActivityContext& ctx, AgentRequest request) {
      if (!publish) return transport->query(request, ctx, sink);
      StreamPublisher publisher(ctx);
      EventSink both = [&](const StreamEvent& event) {
        sink(event);
        publisher.on_event(event);
      };
      AgentResult result;
      try {
        result = transport->query(request, ctx, both);
      } catch (...) {
        try {
          publisher.flush();  // what arrived before the failure
        } catch (...) {
          // The query's own error is the one to report.
        }
        throw;
      }
      publisher.finish(result);
      return result;
    };
  }
};

}  // namespace durable::claude
