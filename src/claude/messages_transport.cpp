#include "durable/claude/messages_transport.hpp"

#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <map>
#include <mutex>
#include <optional>

#include "claude/message_stream.hpp"
#include "claude/redact.hpp"
#include "claude/sse_parser.hpp"
#include "durable/claude/errors.hpp"

namespace durable::claude {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxErrorBody = 64 * 1024;

std::string env_or(const std::string& value, const char* name) {
  if (!value.empty()) return value;
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Config {
  std::string url;
  std::string api_key;
  std::string auth_token;
};

// The server's suggested delay: retry-after-ms, else retry-after (seconds or an HTTP date).
std::optional<std::chrono::milliseconds> retry_after(const std::map<std::string, std::string>& h) {
  if (auto it = h.find("retry-after-ms"); it != h.end()) {
    char* end = nullptr;
    double ms = std::strtod(it->second.c_str(), &end);
    if (end != it->second.c_str() && ms >= 0) {
      return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
    }
  }
  if (auto it = h.find("retry-after"); it != h.end()) {
    char* end = nullptr;
    double s = std::strtod(it->second.c_str(), &end);
    if (end != it->second.c_str() && *end == '\0' && s >= 0) {
      return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
    }
    time_t when = curl_getdate(it->second.c_str(), nullptr);
    if (when != -1) {
      auto delta = std::difftime(when, std::time(nullptr));
      return std::chrono::milliseconds(static_cast<std::int64_t>(delta > 0 ? delta * 1000 : 0));
    }
  }
  return std::nullopt;
}

// One HTTP exchange: its state as curl's callbacks see it.
struct Exchange {
  CURL* curl = nullptr;
  ActivityContext* ctx = nullptr;
  const EventSink* sink = nullptr;
  long status = 0;
  std::map<std::string, std::string> headers{};
  bool streaming = false;
  bool decided = false;  // status and content type looked at (first body byte)
  std::string body{};
  detail::SseParser parser{};
  std::optional<detail::MessageStream> stream{};
  std::exception_ptr error{};  // thrown inside a callback; C code must not see exceptions
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& x = *static_cast<Exchange*>(user);
  std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    x.headers.clear();  // a new response (after 100 Continue or a redirect)
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    x.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& x = *static_cast<Exchange*>(user);
  std::string_view bytes(data, size * count);
  try {
    if (!x.decided) {
      x.decided = true;
      curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &x.status);
      auto ct = x.headers.find("content-type");
      x.streaming = x.status == 200 && ct != x.headers.end() &&
                    lower(ct->second).find("text/event-stream") != std::string::npos;
    }
    if (x.streaming) {
      for (const auto& event : x.parser.feed(bytes)) x.stream->on_event(event);
    } else if (x.body.size() < kMaxErrorBody || x.status == 200) {
      x.body.append(bytes);
    }
  } catch (...) {
    x.error = std::current_exception();
    return 0;  // aborts the transfer
  }
  return size * count;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& x = *static_cast<Exchange*>(user);
  return x.ctx->cancelled() ? 1 : 0;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

struct MessagesTransport::Impl {
  MessagesOptions options;

  Config config() const {
    Config c;
    std::string base = env_or(options.base_url, "ANTHROPIC_BASE_URL");
    if (base.empty()) base = "https://api.anthropic.com";
    while (!base.empty() && base.back() == '/') base.pop_back();
    c.url = base + "/v1/messages";
    c.api_key = env_or(options.api_key, "ANTHROPIC_API_KEY");
    if (c.api_key.empty()) c.auth_token = env_or(options.auth_token, "ANTHROPIC_AUTH_TOKEN");
    return c;
  }

  json body(const AgentRequest& r, const json& messages, const std::string& user_id) const {
    json b = {{"model", r.model.empty() ? options.default_model : r.model},
              {"max_tokens", r.max_tokens > 0 ? r.max_tokens : 1024},
              {"messages", messages},
              {"metadata", {{"user_id", user_id}}}};
    if (options.stream) b["stream"] = true;
    if (!r.system.empty()) b["system"] = r.system;
    if (r.temperature) b["temperature"] = *r.temperature;
    if (r.thinking_budget_tokens) {
      b["thinking"] = {{"type", "enabled"}, {"budget_tokens", *r.thinking_budget_tokens}};
    }
    if (!r.stop_sequences.empty()) b["stop_sequences"] = r.stop_sequences;
    if (!r.tools.empty()) {
      json tools = json::array();
      for (const auto& t : r.tools) {
        json tool = {{"name", t.name}, {"input_schema", t.input_schema}};
        if (!t.description.empty()) tool["description"] = t.description;
        tools.push_back(std::move(tool));
      }
      b["tools"] = std::move(tools);
    }
    return b;
  }

  // One request; returns the reply message or throws a typed error.
  json exchange(const Config& cfg, const json& request_body, ActivityContext& ctx,
                const EventSink& sink) const {
    global_init();
    std::vector<std::string> secrets{cfg.api_key, cfg.auth_token};
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) throw RetryableError("Claude: curl_easy_init failed", {.type = "client_error"});

    curl_slist* raw = nullptr;
    raw = curl_slist_append(raw, "content-type: application/json");
    raw = curl_slist_append(raw, "anthropic-version: 2023-06-01");
    raw = curl_slist_append(
        raw, options.stream ? "accept: text/event-stream" : "accept: application/json");
    raw = curl_slist_append(raw, "expect:");  // no 100-continue round trip
    if (!cfg.api_key.empty()) {
      raw = curl_slist_append(raw, ("x-api-key: " + cfg.api_key).c_str());
    } else if (!cfg.auth_token.empty()) {
      raw = curl_slist_append(raw, ("authorization: Bearer " + cfg.auth_token).c_str());
    }
    for (const auto& beta : options.beta) {
      raw = curl_slist_append(raw, ("anthropic-beta: " + beta).c_str());
    }
    std::unique_ptr<curl_slist, SlistDeleter> headers(raw);

    std::string payload = request_body.dump();
    Exchange x;
    x.curl = curl.get();
    x.ctx = &ctx;
    x.sink = &sink;
    x.stream.emplace(sink);
    char errbuf[CURL_ERROR_SIZE] = {};

    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, cfg.url.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_USERAGENT, "durable-claude/0.1");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM-based DNS timeouts
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

    CURLcode rc = curl_easy_perform(c);
    if (x.error) std::rethrow_exception(x.error);
    if (!x.decided) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x.status);
    std::string request_id;
    if (auto it = x.headers.find("request-id"); it != x.headers.end()) request_id = it->second;

    if (rc != CURLE_OK && (x.status == 0 || x.status == 200)) {
      ErrorInfo info{.status = 0, .type = "connection_error", .request_id = request_id};
      std::string what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
      if (rc == CURLE_ABORTED_BY_CALLBACK && ctx.cancelled()) {
        info.type = "cancelled";
        what = "cancelled";
      } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        info.type = "timeout";
      }
      throw RetryableError(
          detail::redact("Claude request to " + cfg.url + " failed: " + what, secrets),
          std::move(info));
    }
    if (x.status != 200) std::rethrow_exception(http_error(x, request_id, secrets));
    if (x.streaming) {
      if (!x.stream->complete()) {
        throw RetryableError("Claude stream ended before message_stop",
                             {.status = 200, .type = "stream_error", .request_id = request_id});
      }
      return x.stream->message();
    }
    json message = json::parse(x.body, nullptr, false);
    if (message.is_discarded() || !message.is_object()) {
      throw RetryableError("Claude reply is not a JSON message",
                           {.status = 200, .type = "stream_error", .request_id = request_id});
    }
    return message;
  }

  static std::exception_ptr http_error(const Exchange& x, const std::string& request_id,
                                       const std::vector<std::string>& secrets) {
    ErrorInfo info{.status = static_cast<int>(x.status),
                   .type = {},
                   .request_id = request_id,
                   .retry_after = retry_after(x.headers)};
    std::string message;
    json body = json::parse(x.body, nullptr, false);
    if (!body.is_discarded() && body.is_object() && body.contains("error") &&
        body["error"].is_object()) {
      const json& e = body["error"];
      if (e.contains("type") && e["type"].is_string()) info.type = e["type"].get<std::string>();
      if (e.contains("message") && e["message"].is_string()) {
        message = e["message"].get<std::string>();
      }
    } else {
      message = x.body.substr(0, 200);
    }
    bool retryable = is_retryable_status(info.status);
    if (auto it = x.headers.find("x-should-retry"); it != x.headers.end()) {
      if (it->second == "true") retryable = true;
      if (it->second == "false") retryable = false;
    }
    std::string what = detail::redact("Claude API error " + std::to_string(info.status) +
                                          (info.type.empty() ? "" : " " + info.type) +
                                          (message.empty() ? "" : ": " + message),
                                      secrets);
    if (retryable) return std::make_exception_ptr(RetryableError(what, std::move(info)));
    return std::make_exception_ptr(PermanentError(what, std::move(info)));
  }
};

MessagesTransport::MessagesTransport(MessagesOptions options)
    : impl_(std::make_unique<Impl>(Impl{std::move(options)})) {}
MessagesTransport::~MessagesTransport() = default;

AgentResult MessagesTransport::query(const AgentRequest& request, ActivityContext& ctx,
                                     const EventSink& sink) {
  const Config cfg = impl_->config();
  if (cfg.api_key.empty() && cfg.auth_token.empty()) {
    throw PermanentError("Claude: no credentials (set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN)",
                         {.status = 0, .type = "authentication_error"});
  }
  const int max_turns =
      request.max_turns > 0 ? request.max_turns : std::max(1, impl_->options.default_max_turns);
  json messages = json::array({{{"role", "user"}, {"content", request.prompt}}});
  AgentResult out;
  out.model = request.model.empty() ? impl_->options.default_model : request.model;
  while (true) {
    ++out.num_turns;
    sink({.kind = StreamEventKind::kStatus, .text = "turn", .data = {{"turn", out.num_turns}}});
    json reply =
        impl_->exchange(cfg, impl_->body(request, messages, ctx.idempotency_key()), ctx, sink);

    const json empty = json::object();
    const json& usage =
        reply.contains("usage") && reply["usage"].is_object() ? reply["usage"] : empty;
    auto count = [&](const char* key) -> std::int64_t {
      return usage.contains(key) && usage[key].is_number_integer() ? usage[key].get<std::int64_t>()
                                                                   : 0;
    };
    out.usage.input_tokens += count("input_tokens");
    out.usage.output_tokens += count("output_tokens");
    out.usage.cache_creation_input_tokens += count("cache_creation_input_tokens");
    out.usage.cache_read_input_tokens += count("cache_read_input_tokens");
    if (reply.contains("model") && reply["model"].is_string()) out.model = reply["model"];
    if (reply.contains("id") && reply["id"].is_string()) out.session_id = reply["id"];
    out.stop_reason = reply.contains("stop_reason") && reply["stop_reason"].is_string()
                          ? reply["stop_reason"].get<std::string>()
                          : std::string();

    json content =
        reply.contains("content") && reply["content"].is_array() ? reply["content"] : json::array();
    out.text.clear();
    for (const json& b : content) {
      if (b.is_object() && b.value("type", "") == "text" && b.contains("text") &&
          b["text"].is_string()) {
        out.text += b["text"].get<std::string>();
      }
    }

    if (out.stop_reason != "tool_use" || !impl_->options.tool_handler) return out;
    if (out.num_turns >= max_turns) {
      out.is_error = true;
      out.stop_reason = "error_max_turns";
      return out;
    }
    json results = json::array();
    for (const json& b : content) {
      if (!b.is_object() || b.value("type", "") != "tool_use") continue;
      std::string id = b.value("id", "");
      std::string name = b.value("name", "");
      json input = b.contains("input") ? b["input"] : json::object();
      json result = {{"type", "tool_result"}, {"tool_use_id", id}};
      try {
        json answer = impl_->options.tool_handler(name, input);
        result["content"] = answer.is_string() ? answer.get<std::string>() : answer.dump();
      } catch (const std::exception& e) {
        result["content"] = std::string(e.what());
        result["is_error"] = true;
      }
      sink({.kind = StreamEventKind::kToolResult, .data = result});
      results.push_back(std::move(result));
    }
    messages.push_back({{"role", "assistant"}, {"content", content}});
    messages.push_back({{"role", "user"}, {"content", std::move(results)}});
  }
}

}  // namespace durable::claude
