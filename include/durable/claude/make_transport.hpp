// make_transport: picks and builds a transport.
//
// kAuto chooses the Messages API when ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN is set (or the
// options carry a key), otherwise the offline transport, whose results say so. Asking for
// kOffline while a key is configured throws std::invalid_argument unless
// `offline_despite_key` is set: a configured key is never ignored silently.
#pragma once

#include <memory>

#include "durable/claude/cli_transport.hpp"
#include "durable/claude/messages_transport.hpp"
#include "durable/claude/offline_transport.hpp"

namespace durable::claude {

enum class TransportKind { kAuto, kMessages, kCli, kOffline };

struct TransportOptions {
  MessagesOptions messages{};
  CliOptions cli{};
  OfflineOptions offline{};
  bool offline_despite_key = false;
};

std::shared_ptr<Transport> make_transport(TransportKind kind, TransportOptions options = {});

}  // namespace durable::claude
