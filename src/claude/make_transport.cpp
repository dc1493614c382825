#include "durable/claude/make_transport.hpp"

#include <cstdlib>
#include <stdexcept>

namespace durable::claude {

namespace {
bool set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}
}  // namespace

std::shared_ptr<Transport> make_transport(TransportKind kind, TransportOptions options) {
  const bool key = set("ANTHROPIC_API_KEY") || set("ANTHROPIC_AUTH_TOKEN") ||
                   !options.messages.api_key.empty() || !options.messages.auth_token.empty();
  switch (kind) {
    case TransportKind::kMessages:
      return std::make_shared<MessagesTransport>(std::move(options.messages));
    case TransportKind::kCli:
      return std::make_shared<CliTransport>(std::move(options.cli));
    case TransportKind::kOffline:
      if (key && !options.offline_despite_key) {
        throw std::invalid_argument(
            "make_transport: offline transport asked for while a Claude API key is configured; "
            "set offline_despite_key to mean it");
      }
      return std::make_shared<OfflineTransport>(std::move(options.offline));
    case TransportKind::kAuto:
      break;
  }
  if (key) return std::make_shared<MessagesTransport>(std::move(options.messages));
  return std::make_shared<OfflineTransport>(std::move(options.offline));
}

}  // namespace durable::claude
