// NdjsonReader: splits a byte stream into JSON objects, one per line.
//
// Bytes go in as they arrive, split anywhere. A line is kept only if, after leading whitespace,
// it starts with '{' and parses as JSON: blank lines, log lines and garbage that a child process
// may print are skipped. A trailing '\r' is dropped. Nothing depends on field order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace durable::claude::detail {

class NdjsonReader {
 public:
  std::vector<nlohmann::json> feed(std::string_view bytes);
  // The last line, when the stream ended without a newline.
  std::vector<nlohmann::json> finish();
  // Lines skipped so far (not JSON objects).
  std::size_t skipped() const { return skipped_; }

 private:
  void line(std::string_view text, std::vector<nlohmann::json>& out);

  std::string partial_{};
  std::size_t skipped_ = 0;
};

}  // namespace durable::claude::detail
