#include "store/store_common.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "durable/errors.hpp"
#include "engine/json_text.hpp"

namespace durable::store {
namespace {

constexpr std::string_view kPageTokenPrefix = "p1.";
constexpr char kHexDigits[] = "0123456789abcdef";

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHexDigits[c >> 4]);
    out.push_back(kHexDigits[c & 0xf]);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

[[noreturn]] void bad_page_token() {
  throw DurableError("list_executions: malformed page token (pass back next_page_token unchanged)");
}

}  // namespace

std::string started_event_data(const NewExecution& execution) {
  // json{{"workflow", ...}, {"input", ...}}.dump() (members in key order), without the DOM.
  std::string data = "{\"input\":";
  if (execution.input_is_serialized_json && !execution.input.empty()) {
    data += execution.input;  // a serialiser's output parses and dumps to itself
  } else {
    nlohmann::json input;
    if (!execution.input.empty()) {
      try {
        input = nlohmann::json::parse(execution.input);
      } catch (const nlohmann::json::parse_error& e) {
        throw StoreError(
            fmt::format("execution {}: input is not valid JSON: {}", execution.id, e.what()),
            /*retryable=*/false);
      }
    }
    detail::append_json(data, input);
  }
  data += ",\"workflow\":";
  detail::append_json_string(data, execution.workflow);
  data += '}';
  return data;
}

std::string continued_event_data(const std::string& id, const std::string& workflow,
                                 const std::string& input, std::int64_t run) {
  nlohmann::json value;
  try {
    value = input.empty() ? nlohmann::json() : nlohmann::json::parse(input);
  } catch (const nlohmann::json::parse_error& e) {
    throw StoreError(
        fmt::format("execution {}: continue-as-new input is not valid JSON: {}", id, e.what()),
        /*retryable=*/false);
  }
  return nlohmann::json{{"workflow", workflow}, {"input", std::move(value)}, {"run", run}}.dump();
}

void check_continue_as_new(const ExecutionWrite& write) {
  if (write.continue_as_new && !write.continue_as_new->empty() &&
      !nlohmann::json::accept(*write.continue_as_new)) {
    throw StoreError(
        fmt::format("execution {}: continue-as-new input is not valid JSON", write.execution_id),
        /*retryable=*/false);
  }
}

std::int32_t step_count(const std::vector<Event>& events) {
  std::int32_t count = 0;
  for (const Event& e : events) count = std::max(count, e.op + 1);
  return count;
}

std::vector<Event> fork_events(const ExecutionRecord& source, const std::vector<Event>& events,
                               const ForkRequest& request) {
  nlohmann::json input =
      source.input.empty() ? nlohmann::json() : nlohmann::json::parse(source.input);
  std::vector<Event> out;
  out.push_back(Event{.index = 0,
                      .type = EventType::kStarted,
                      .op = -1,
                      .name = source.workflow,
                      .data = nlohmann::json{{"workflow", source.workflow},
                                             {"input", std::move(input)},
                                             {"forked_from", source.id},
                                             {"from_step", request.from_step}}
                                  .dump(),
                      .time = request.created_at});
  for (const Event& e : events) {
    if (e.index == 0 || e.op < 0 || e.op >= request.from_step) continue;
    Event copy = e;
    copy.index = static_cast<std::int64_t>(out.size());
    out.push_back(std::move(copy));
  }
  return out;
}

bool is_valid_event_data(const std::string& data) {
  return data.empty() || nlohmann::json::accept(data);
}

void check_write_events(const ExecutionWrite& write) {
  std::int64_t expected = write.expected_next_index;
  for (const Event& event : write.events) {
    if (event.index != expected) {
      throw StoreError(
          fmt::format("execution {}: event {} is numbered {}; a write's events must "
                      "be numbered consecutively from expected_next_index {}",
                      write.execution_id, expected, event.index, write.expected_next_index),
          /*retryable=*/false);
    }
    if (!write.data_is_serialized_json && !is_valid_event_data(event.data)) {
      throw StoreError(fmt::format("execution {}, event {}: data is not valid JSON",
                                   write.execution_id, event.index),
                       /*retryable=*/false);
    }
    ++expected;
  }
}

void check_stream_entries(const std::string& execution_id,
                          const std::vector<NewStreamEntry>& entries, bool check_data) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto refuse = [&](std::string_view why) {
      throw StoreError(fmt::format("execution {}: stream entry {} of the append (kind '{}'): {}",
                                   execution_id, i, entries[i].kind, why),
                       /*retryable=*/false);
    };
    if (entries[i].kind.empty()) refuse("the kind is empty");
    if (check_data && !is_valid_event_data(entries[i].data)) refuse("data is not valid JSON");
  }
}

NewStreamEntry started_stream_entry(const NewExecution& execution) {
  // json{{"status", "started"}, {"workflow", ...}}.dump(), without the DOM.
  std::string data = "{\"status\":\"started\",\"workflow\":";
  detail::append_json_string(data, execution.workflow);
  data += '}';
  return NewStreamEntry{.kind = "status",
                        .data = std::move(data),
                        .time = execution.created_at,
                        .key = "status:started"};
}

NewStreamEntry forked_stream_entry(const ForkRequest& request, const std::string& workflow) {
  return NewStreamEntry{.kind = "status",
                        .data = nlohmann::json{{"status", "started"},
                                               {"workflow", workflow},
                                               {"forked_from", request.source_id},
                                               {"from_step", request.from_step}}
                                    .dump(),
                        .time = request.created_at,
                        .key = "status:started"};
}

void check_new_queue_item(const NewQueueItem& item) {
  auto refuse = [&](std::string_view why) {
    throw StoreError(fmt::format("enqueue (queue '{}', item '{}'): {}", item.queue, item.key, why),
                     /*retryable=*/false);
  };
  if (item.queue.empty()) refuse("the queue name is empty");
  if (item.key.empty()) refuse("the key is empty");
  if (!is_valid_event_data(item.payload)) refuse("the payload is not valid JSON");
  if (item.waiter_execution_id.empty() != item.waiter_deferred.empty()) {
    refuse("waiter_execution_id and waiter_deferred must both be set or both be empty");
  }
}

void check_item_outcome(const std::string& queue, const std::string& key,
                        const std::string& result_or_error) {
  if (!is_valid_event_data(result_or_error)) {
    throw StoreError(fmt::format("complete_item (queue '{}', item '{}'): the result or error is "
                                 "not valid JSON",
                                 queue, key),
                     /*retryable=*/false);
  }
}

void check_rate_limit(const RateLimit& limit) {
  const char* why =
      limit.name.empty()          ? "the name is empty"
      : limit.permits < 1         ? "permits must be at least 1"
      : limit.period.count() <= 0 ? "the period must be positive"
      : limit.kind != RateLimitKind::kFixedWindow && limit.kind != RateLimitKind::kTokenBucket
          ? "unknown kind"
          : nullptr;
  if (why) {
    throw StoreError(fmt::format("acquire_permit (rate limit '{}'): {}", limit.name, why),
                     /*retryable=*/false);
  }
}

PermitDecision decide_permit(const RateLimit& limit, std::optional<PermitState>& state,
                             TimePoint now) {
  const std::int64_t t = to_millis(now);
  const std::int64_t period = limit.period.count();
  if (state && state->kind != limit.kind) state.reset();
  if (limit.kind == RateLimitKind::kFixedWindow) {
    // Floor division, so that times before the epoch still fall in the right window.
    std::int64_t start = t - (((t % period) + period) % period);
    if (!state) state = PermitState{limit.kind, start, 0};
    if (start > state->mark) *state = PermitState{limit.kind, start, 0};
    // A clock behind the stored window counts against the stored (latest) window.
    if (state->used < limit.permits) {
      ++state->used;
      return PermitDecision{true, TimePoint{}};
    }
    return PermitDecision{false, from_millis(state->mark + period)};
  }
  if (!state) state = PermitState{limit.kind, t, limit.permits};
  if (state->used > limit.permits) state->used = limit.permits;  // the burst was lowered
  if (t > state->mark) {
    std::int64_t earned = (t - state->mark) / period;
    if (state->used + earned >= limit.permits) {
      state->used = limit.permits;
      state->mark = t;
    } else {
      state->used += earned;
      state->mark += earned * period;
    }
  }
  if (state->used >= 1) {
    --state->used;
    return PermitDecision{true, TimePoint{}};
  }
  return PermitDecision{false, from_millis(state->mark + period)};
}

std::string queue_resolution_value(bool ok, const std::string& result_or_error) {
  nlohmann::json value;
  if (!result_or_error.empty()) value = nlohmann::json::parse(result_or_error);
  return nlohmann::json{{"ok", ok}, {ok ? "value" : "error", std::move(value)}}.dump();
}

std::string encode_page_token(TimePoint created_at, const std::string& id) {
  return fmt::format("{}{}.{}", kPageTokenPrefix, to_millis(created_at), to_hex(id));
}

std::pair<TimePoint, std::string> decode_page_token(const std::string& token) {
  std::string_view rest{token};
  if (!rest.starts_with(kPageTokenPrefix)) bad_page_token();
  rest.remove_prefix(kPageTokenPrefix.size());
  std::size_t dot = rest.find('.');
  if (dot == std::string_view::npos) bad_page_token();
  std::int64_t millis = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + dot, millis);
  if (ec != std::errc{} || end != rest.data() + dot) bad_page_token();
  std::string_view hex = rest.substr(dot + 1);
  if (hex.size() % 2 != 0) bad_page_token();
  std::string id;
  id.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]);
    int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) bad_page_token();
    id.push_back(static_cast<char>(hi * 16 + lo));
  }
  return {from_millis(millis), std::move(id)};
}

std::string random_secret() {
  std::string secret(kTokenSecretSize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                 static_cast<int>(secret.size())) != 1) {
    throw StoreError("token secret: the OpenSSL random generator failed", /*retryable=*/true);
  }
  return secret;
}

}  // namespace durable::store
