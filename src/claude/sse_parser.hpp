// An incremental parser for server-sent events (the WHATWG event-stream format).
//
// Bytes go in as they arrive, split anywhere; each blank-line-terminated block with at least one
// `data` line comes out as one SseEvent. Lines end in LF, CRLF or CR (a CR at the end of one feed
// and an LF at the start of the next are one line end). `data` lines are joined with "\n";
// comment lines (starting with ':') and unknown fields are ignored; one space after the colon is
// dropped. A block cut off by the end of the stream is never dispatched.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace durable::claude::detail {

struct SseEvent {
  std::string event = "message";  // the `event` field; "message" when absent
  std::string data{};
  std::string id{};
};

class SseParser {
 public:
  // Parses `bytes` and returns the events they complete, in order.
  std::vector<SseEvent> feed(std::string_view bytes);

 private:
  void line(std::string_view text, std::vector<SseEvent>& out);

  std::string partial_{};  // an unterminated line
  bool after_cr_ = false;  // the last byte fed was a CR: a leading LF ends nothing
  SseEvent block_{};
  bool has_data_ = false;
};

}  // namespace durable::claude::detail
