#include "claude/sse_parser.hpp"

namespace durable::claude::detail {

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
  std::vector<SseEvent> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c == '\n' && after_cr_ && i == start && partial_.empty()) {
      // The LF of a CRLF whose CR ended the previous line.
      after_cr_ = false;
      start = i + 1;
      continue;
    }
    after_cr_ = false;
    if (c != '\n' && c != '\r') continue;
    std::string_view piece = bytes.substr(start, i - start);
    if (partial_.empty()) {
      line(piece, out);
    } else {
      partial_.append(piece);
      std::string whole = std::move(partial_);
      partial_.clear();
      line(whole, out);
    }
    after_cr_ = c == '\r';
    start = i + 1;
  }
  partial_.append(bytes.substr(start));
  return out;
}

void SseParser::line(std::string_view text, std::vector<SseEvent>& out) {
  if (text.empty()) {
    if (has_data_) {
      if (!block_.data.empty() && block_.data.back() == '\n') block_.data.pop_back();
      out.push_back(std::move(block_));
    }
    block_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (text.front() == ':') return;  // a comment (servers send them as keep-alives)
  std::string_view field = text, value;
  if (auto colon = text.find(':'); colon != std::string_view::npos) {
    field = text.substr(0, colon);
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "event") {
    block_.event = value.empty() ? "message" : std::string(value);
  } else if (field == "data") {
    block_.data.append(value);
    block_.data.push_back('\n');
    has_data_ = true;
  } else if (field == "id") {
    block_.id = std::string(value);
  }
  // `retry` and anything else: not used here.
}

}  // namespace durable::claude::detail
