// The engine writes hot event data as text (json_text.hpp); the journal must hold exactly what
// Json::dump() wrote before, so journals stay byte-compatible in both directions.
#include "engine/json_text.hpp"

#include "engine/stream_hub.hpp"
#include "store/store_common.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace durable::detail {
namespace {

std::vector<Json> samples() {
  return {
      nullptr,
      true,
      false,
      0,
      -1,
      42,
      std::numeric_limits<std::int64_t>::min(),
      std::numeric_limits<std::int64_t>::max(),
      std::numeric_limits<std::uint64_t>::max(),
      1.5,
      -0.0,
      1e300,
      "",
      "plain text ~ with {brackets} and 'quotes'",
      "needs \"escaping\"\\ \n\t\x01",
      "caf\xc3\xa9 \xe2\x82\xac",
      "\x7f",
      Json::array(),
      Json::array({1, "two", nullptr, Json::array({3, Json::array()}), Json::object()}),
      Json::object(),
      Json{{"b", 1}, {"a", Json::array({true, "x\"y"})}, {"k\"ey", nullptr}},
  };
}

TEST(JsonText, AppendJsonWritesWhatDumpWrites) {
  for (const Json& value : samples()) {
    std::string out = "prefix:";
    append_json(out, value);
    EXPECT_EQ(out, "prefix:" + value.dump()) << value.dump();
  }
}

TEST(JsonText, JsonMemberIsTheOneMemberObjectDump) {
  for (const Json& value : samples()) {
    EXPECT_EQ(json_member("value", value), (Json{{"value", value}}.dump())) << value.dump();
  }
}

TEST(JsonText, ArgumentsJsonIsTheArrayDump) {
  EXPECT_EQ(arguments_json(), Json::array().dump());
  EXPECT_EQ(arguments_json(Json(7)), Json::array({7}).dump());
  EXPECT_EQ(arguments_json(Json::array({1, 2})), Json::array({Json::array({1, 2})}).dump());
  EXPECT_EQ(arguments_json(Json("a"), Json{{"k", 1}}, Json(nullptr)),
            Json::array({"a", Json{{"k", 1}}, nullptr}).dump());
}

TEST(JsonText, InvalidUtf8ThrowsLikeDump) {
  Json bad = std::string("\xff\xfe");
  std::string out;
  EXPECT_THROW(append_json(out, bad), Json::type_error);
  EXPECT_THROW(append_json(out, Json::array({bad})), Json::type_error);
}

// The per-execution entries written as text, against the DOM they were built from before.
TEST(JsonText, StartedDataAndStatusEntriesAreUnchanged) {
  for (std::string workflow : {"publish", "caf\xc3\xa9 \"quoted\""}) {
    for (std::string input : {"", "5", "[1, 2]", "{\"b\": 1, \"a\": \"x\"}"}) {
      NewExecution spec;
      spec.id = "id";
      spec.workflow = workflow;
      spec.input = input;
      Json parsed = input.empty() ? Json() : Json::parse(input);
      EXPECT_EQ(store::started_event_data(spec),
                (Json{{"workflow", workflow}, {"input", parsed}}.dump()));
    }
    NewExecution spec;
    spec.workflow = workflow;
    EXPECT_EQ(store::started_stream_entry(spec).data,
              (Json{{"status", "started"}, {"workflow", workflow}}.dump()));
  }
  for (std::string waiting_on : {"", "deferred 'approval'", "timer 'caf\xc3\xa9'"}) {
    for (std::string error : {"", R"({"message":"m","type":"t"})", "not json"}) {
      Json expected{{"status", "waiting"}};
      if (!waiting_on.empty()) expected["waiting_on"] = waiting_on;
      if (!error.empty()) expected["error"] = Json::parse(error, nullptr, false);
      EXPECT_EQ(
          status_stream_entry(ExecutionStatus::kWaiting, waiting_on, error, 3, 1, TimePoint{}).data,
          expected.dump());
    }
  }
}

}  // namespace
}  // namespace durable::detail
