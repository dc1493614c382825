#include "claude/ndjson_reader.hpp"

namespace durable::claude::detail {

std::vector<nlohmann::json> NdjsonReader::feed(std::string_view bytes) {
  std::vector<nlohmann::json> out;
  std::size_t start = 0;
  for (std::size_t nl = bytes.find('\n'); nl != std::string_view::npos;
       nl = bytes.find('\n', start)) {
    std::string_view piece = bytes.substr(start, nl - start);
    if (partial_.empty()) {
      line(piece, out);
    } else {
      partial_.append(piece);
      std::string whole = std::move(partial_);
      partial_.clear();
      line(whole, out);
    }
    start = nl + 1;
  }
  partial_.append(bytes.substr(start));
  return out;
}

std::vector<nlohmann::json> NdjsonReader::finish() {
  std::vector<nlohmann::json> out;
  std::string last = std::move(partial_);
  partial_.clear();
  line(last, out);
  return out;
}

void NdjsonReader::line(std::string_view text, std::vector<nlohmann::json>& out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty()) return;
  if (text.front() != '{') {
    ++skipped_;
    return;
  }
  auto value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) {
    ++skipped_;
    return;
  }
  out.push_back(std::move(value));
}

}  // namespace durable::claude::detail
