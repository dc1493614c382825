// Keeps secrets out of messages: every occurrence of a secret becomes "[redacted]".
#pragma once

#include <string>
#include <vector>

namespace durable::claude::detail {

inline std::string redact(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.size() < 4) continue;  // too short to be a credential; replacing would garble
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), "[redacted]");
    }
  }
  return text;
}

}  // namespace durable::claude::detail
