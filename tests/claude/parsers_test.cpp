// The SSE parser, the Messages stream assembler and the NDJSON reader, byte by byte.
#include <gtest/gtest.h>

#include "claude/claude_test_support.hpp"
#include "claude/message_stream.hpp"
#include "claude/ndjson_reader.hpp"
#include "claude/sse_parser.hpp"
#include "durable/claude/errors.hpp"

namespace durable::claude::detail {
namespace {

using nlohmann::json;

std::vector<SseEvent> parse_in_pieces(std::string_view text, std::size_t piece) {
  SseParser parser;
  std::vector<SseEvent> out;
  for (std::size_t i = 0; i < text.size(); i += piece) {
    for (auto& e : parser.feed(text.substr(i, piece))) out.push_back(std::move(e));
  }
  return out;
}

TEST(SseParser, YieldsOneEventPerBlankLineTerminatedBlockWhateverTheSplit) {
  const std::string text =
      "event: a\ndata: {\"x\":1}\n\n"
      ": a comment\n\n"
      "event: b\r\ndata: line1\r\ndata: line2\r\n\r\n"
      "event: c\rdata:no-space\r\r"
      "data: nameless\n\n"
      "event: d\nid: 7\nretry: 100\nunknown: x\ndata\n\n"
      "event: cut\ndata: never dispatched";
  for (std::size_t piece = 1; piece <= text.size(); ++piece) {
    auto events = parse_in_pieces(text, piece);
    ASSERT_EQ(events.size(), 5u) << "piece size " << piece;
    EXPECT_EQ(events[0].event, "a");
    EXPECT_EQ(events[0].data, "{\"x\":1}");
    EXPECT_EQ(events[1].event, "b");
    EXPECT_EQ(events[1].data, "line1\nline2");
    EXPECT_EQ(events[2].event, "c");
    EXPECT_EQ(events[2].data, "no-space");
    EXPECT_EQ(events[3].event, "message");
    EXPECT_EQ(events[3].data, "nameless");
    EXPECT_EQ(events[4].event, "d");
    EXPECT_EQ(events[4].id, "7");
    EXPECT_EQ(events[4].data, "");
  }
}

TEST(SseParser, ABlockWithoutDataIsNotDispatched) {
  SseParser parser;
  EXPECT_TRUE(parser.feed("event: lonely\n\n").empty());
  auto events = parser.feed("data: x\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "message") << "the event name does not leak into the next block";
}

TEST(MessageStream, ThinkingSignatureAndCitationsAccumulate) {
  testing::RecordingSink recorder;
  EventSink sink = recorder.sink();
  MessageStream stream(sink);
  auto ev = [&](const std::string& name, json data) {
    stream.on_event({.event = name, .data = data.dump()});
  };
  ev("message_start", {{"message", {{"id", "m"}, {"content", json::array()}}}});
  ev("content_block_start", {{"index", 0}, {"content_block", {{"type", "thinking"}}}});
  ev("content_block_delta",
     {{"index", 0}, {"delta", {{"type", "thinking_delta"}, {"thinking", "hm"}}}});
  ev("content_block_delta",
     {{"index", 0}, {"delta", {{"type", "thinking_delta"}, {"thinking", "m."}}}});
  ev("content_block_delta",
     {{"index", 0}, {"delta", {{"type", "signature_delta"}, {"signature", "sig"}}}});
  ev("content_block_delta", {{"index", 0}, {"delta", {{"type", "brand_new_delta"}}}});
  ev("content_block_stop", {{"index", 0}});
  ev("message_delta",
     {{"delta", {{"stop_reason", "end_turn"}}}, {"usage", {{"output_tokens", 5}}}});
  ev("message_stop", json::object());
  EXPECT_TRUE(stream.complete());
  EXPECT_EQ(stream.message()["content"][0]["thinking"], "hmm.");
  EXPECT_EQ(stream.message()["content"][0]["signature"], "sig");
  EXPECT_EQ(stream.message()["stop_reason"], "end_turn");
  EXPECT_EQ(stream.message()["usage"]["output_tokens"], 5);
  EXPECT_EQ(recorder.count(StreamEventKind::kThinking), 2u);
}

TEST(MessageStream, MalformedDataIsARetryableStreamError) {
  EventSink sink = discard_events();
  MessageStream stream(sink);
  EXPECT_THROW(stream.on_event({.event = "content_block_delta", .data = "{not json"}),
               RetryableError);
  EXPECT_THROW(stream.on_event({.event = "content_block_delta", .data = R"({"index":"x"})"}),
               RetryableError);
  EXPECT_THROW(stream.on_event({.event = "content_block_start", .data = R"({"index":99999999})"}),
               RetryableError);
  stream.on_event({.event = "content_block_start",
                   .data = R"({"index":0,"content_block":{"type":"tool_use","id":"t"}})"});
  stream.on_event(
      {.event = "content_block_delta",
       .data = R"({"index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a"}})"});
  EXPECT_THROW(stream.on_event({.event = "content_block_stop", .data = R"({"index":0})"}),
               RetryableError)
      << "tool input that never becomes JSON";
}

TEST(NdjsonReader, SkipsBlankAndNonJsonLinesAndJoinsSplitLines) {
  const std::string text =
      "\n{\"type\":\"system\",\"session_id\":\"s\"}\r\n"
      "some log line\n"
      "   \n"
      "[1,2]\n"
      "{broken\n"
      "  {\"b\":2,\"type\":\"result\"}\n"
      "{\"last\":true}";
  for (std::size_t piece = 1; piece <= text.size(); ++piece) {
    NdjsonReader reader;
    std::vector<json> out;
    for (std::size_t i = 0; i < text.size(); i += piece) {
      for (auto& j : reader.feed(std::string_view(text).substr(i, piece))) out.push_back(j);
    }
    for (auto& j : reader.finish()) out.push_back(j);
    ASSERT_EQ(out.size(), 3u) << piece;
    EXPECT_EQ(out[0]["type"], "system");
    EXPECT_EQ(out[1]["type"], "result");
    EXPECT_EQ(out[2]["last"], true);
    EXPECT_EQ(reader.skipped(), 3u);
  }
}

}  // namespace
}  // namespace durable::claude::detail
