#include "durable/claude/offline_transport.hpp"

#include "durable/claude/errors.hpp"

namespace durable::claude {

OfflineTransport::OfflineTransport(OfflineOptions options) : options_(std::move(options)) {}

AgentResult OfflineTransport::query(const AgentRequest& request, ActivityContext& ctx,
                                    const EventSink& sink) {
  OfflineReply reply;
  {
    std::lock_guard lock(mutex_);
    if (!options_.script.empty()) {
      reply = options_.script[std::min(next_, options_.script.size() - 1)];
      ++next_;
    } else {
      reply.text = "no model was asked; the prompt was: " + request.prompt;
    }
  }
  sink({.kind = StreamEventKind::kStatus, .text = "offline"});
  if (!reply.error.empty()) {
    std::string what = std::string(kPrefix) + reply.error;
    if (reply.retryable) throw RetryableError(what, {.type = "offline"});
    throw PermanentError(what, {.type = "offline"});
  }
  AgentResult out;
  out.text = kPrefix + reply.text;
  out.stop_reason = reply.stop_reason;
  out.is_error = reply.is_error;
  out.model = kModel;
  out.num_turns = 1;
  out.session_id = "offline:" + ctx.idempotency_key();
  sink({.kind = StreamEventKind::kText, .text = out.text});
  return out;
}

}  // namespace durable::claude
