// libFuzzer target for the SSE parser and the Messages stream assembler. The input is fed in
// pieces whose sizes come from its first byte, so splits land everywhere. Properties:
//  - nothing crashes (ASan, UBSan) and the assembler throws nothing but the typed Claude errors;
//  - the events do not depend on how the bytes were split: one feed and piecewise feeds agree.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "claude/message_stream.hpp"
#include "claude/sse_parser.hpp"
#include "durable/claude/errors.hpp"

namespace {

using durable::claude::detail::MessageStream;
using durable::claude::detail::SseEvent;
using durable::claude::detail::SseParser;

std::vector<SseEvent> parse(std::string_view bytes, std::size_t piece) {
  SseParser parser;
  std::vector<SseEvent> out;
  for (std::size_t i = 0; i < bytes.size(); i += piece) {
    for (auto& e : parser.feed(bytes.substr(i, piece))) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t piece = data[0] % 16 + 1;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto whole = parse(bytes, bytes.size() + 1);
  auto pieces = parse(bytes, piece);
  if (whole.size() != pieces.size()) {
    std::fprintf(stderr, "sse_fuzz: %zu events in one feed, %zu in pieces of %zu\n", whole.size(),
                 pieces.size(), piece);
    std::abort();
  }
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (whole[i].event != pieces[i].event || whole[i].data != pieces[i].data ||
        whole[i].id != pieces[i].id) {
      std::fprintf(stderr, "sse_fuzz: event %zu differs with pieces of %zu\n", i, piece);
      std::abort();
    }
  }
  durable::claude::EventSink sink = [](const durable::claude::StreamEvent&) {};
  MessageStream stream(sink);
  try {
    for (const auto& e : whole) stream.on_event(e);
  } catch (const durable::claude::RetryableError&) {
  } catch (const durable::claude::PermanentError&) {
  }
  return 0;
}
