// OfflineTransport: scripted replies for tests and demos without a key or network.
//
// Every result announces itself: model "offline" and text starting with "[offline] ". Replies are
// taken from the script in order (the last one repeats); with an empty script the reply echoes
// the prompt. A scripted error is thrown as the matching typed error.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "durable/claude/transport.hpp"

namespace durable::claude {

struct OfflineReply {
  std::string text{};
  std::string stop_reason = "end_turn";
  bool is_error = false;
  // Non-empty: throw instead of replying, a RetryableError if `retryable`, else PermanentError.
  std::string error{};
  bool retryable = true;
};

struct OfflineOptions {
  std::vector<OfflineReply> script{};
};

class OfflineTransport final : public Transport {
 public:
  static constexpr const char* kModel = "offline";
  static constexpr const char* kPrefix = "[offline] ";

  explicit OfflineTransport(OfflineOptions options = {});

  AgentResult query(const AgentRequest& request, ActivityContext& ctx,
                    const EventSink& sink) override;

 private:
  OfflineOptions options_;
  std::mutex mutex_;
  std::size_t next_ = 0;
};

}  // namespace durable::claude
