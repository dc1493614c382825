// LoopbackServer: a small blocking HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for tests
// that talk to Claude's wire format for real, over a socket.
//
// Each connection carries one request (the reply says `connection: close`). Request bodies are
// read by Content-Length or chunked encoding. Replies to `POST /v1/messages` come from a script
// (queued with push(), one per request, in order); everything else, and the messages endpoint
// once the script is empty, goes to the fallback handler (by default 404 with an API error body).
// Every request is recorded.
//
// A scripted reply can be held (nothing is sent until release(), bounded by kMaxHold), sent with
// chunked encoding one chunk per write (so the client sees it in pieces), or dropped (the
// connection closes mid-body).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace durable::claude::testing {

struct HttpRequest {
  std::string method{};
  std::string target{};                          // as sent, query included
  std::string path{};                            // without the query
  std::map<std::string, std::string> headers{};  // names lower-cased
  std::string body{};

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::vector<std::string> chunks{};  // the body, in pieces
  bool chunked = false;               // transfer-encoding: chunked, one chunk per piece
  bool drop = false;                  // close after the pieces, leaving the body unfinished
  bool hold = false;                  // send nothing until release() (or kMaxHold)
};

// One server-sent event.
inline std::string sse(const std::string& event, const nlohmann::json& data) {
  return "event: " + event + "\ndata: " + data.dump() + "\n\n";
}

// A complete streamed reply whose text arrives in `pieces` text deltas.
inline std::vector<std::string> text_stream(const std::vector<std::string>& pieces,
                                            const std::string& model = "claude-test",
                                            const std::string& stop_reason = "end_turn") {
  using nlohmann::json;
  std::vector<std::string> out;
  out.push_back(
      sse("message_start", {{"type", "message_start"},
                            {"message",
                             {{"id", "msg_1"},
                              {"type", "message"},
                              {"role", "assistant"},
                              {"model", model},
                              {"content", json::array()},
                              {"stop_reason", nullptr},
                              {"stop_sequence", nullptr},
                              {"usage", {{"input_tokens", 12}, {"output_tokens", 1}}}}}}));
  out.push_back(sse("content_block_start", {{"type", "content_block_start"},
                                            {"index", 0},
                                            {"content_block", {{"type", "text"}, {"text", ""}}}}));
  out.push_back(sse("ping", {{"type", "ping"}}));
  for (const auto& piece : pieces) {
    out.push_back(
        sse("content_block_delta", {{"type", "content_block_delta"},
                                    {"index", 0},
                                    {"delta", {{"type", "text_delta"}, {"text", piece}}}}));
  }
  out.push_back(sse("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}}));
  out.push_back(
      sse("message_delta", {{"type", "message_delta"},
                            {"delta", {{"stop_reason", stop_reason}, {"stop_sequence", nullptr}}},
                            {"usage", {{"output_tokens", 7}}}}));
  out.push_back(sse("message_stop", {{"type", "message_stop"}}));
  return out;
}

inline Reply streamed(std::vector<std::string> events) {
  return Reply{.status = 200,
               .headers = {{"content-type", "text/event-stream"}, {"request-id", "req_test"}},
               .chunks = std::move(events),
               .chunked = true};
}

inline Reply json_reply(int status, const nlohmann::json& body,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
  headers.emplace_back("content-type", "application/json");
  headers.emplace_back("request-id", "req_test");
  return Reply{.status = status, .headers = std::move(headers), .chunks = {body.dump()}};
}

inline Reply api_error(int status, const std::string& type, const std::string& message,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
  return json_reply(status,
                    {{"type", "error"},
                     {"error", {{"type", type}, {"message", message}}},
                     {"request_id", "req_test"}},
                    std::move(headers));
}

class LoopbackServer {
 public:
  using Handler = std::function<Reply(const HttpRequest&)>;
  static constexpr std::chrono::seconds kMaxHold{10};

  LoopbackServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("bind/listen failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe(wake_) != 0) throw std::runtime_error("pipe failed");
    fallback_ = [](const HttpRequest&) {
      return api_error(404, "not_found_error", "no such endpoint on the loopback server");
    };
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~LoopbackServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      released_ = true;
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    char c = 'x';
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
    acceptor_.join();
    for (auto& t : workers_) t.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void push(Reply reply) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(reply));
  }
  void set_fallback(Handler handler) {
    std::lock_guard lock(mutex_);
    fallback_ = std::move(handler);
  }
  // Lets every held reply (and those held later) go.
  void release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    cv_.notify_all();
  }

  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Requests to `path` (POST /v1/messages by default), in arrival order.
  std::vector<HttpRequest> messages_requests() const {
    std::lock_guard lock(mutex_);
    std::vector<HttpRequest> out;
    for (const auto& r : requests_) {
      if (r.method == "POST" && r.path == "/v1/messages") out.push_back(r);
    }
    return out;
  }
  // Blocks until `n` messages requests have arrived; false after `timeout`.
  bool wait_for_messages_requests(std::size_t n,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return messages_count_ >= n; });
  }

 private:
  void accept_loop() {
    while (true) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents) return;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mutex_);
      if (stopping_) {
        ::close(fd);
        return;
      }
      open_.push_back(fd);
      workers_.emplace_back([this, fd] {
        serve(fd);
        std::lock_guard lock(mutex_);
        open_.erase(std::find(open_.begin(), open_.end(), fd));
        ::close(fd);
      });
    }
  }

  static bool read_more(int fd, std::string& buf) {
    char chunk[16384];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  static bool read_request(int fd, HttpRequest& req) {
    std::string buf;
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more(fd, buf)) return false;
    }
    std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    auto sp1 = first.find(' ');
    auto sp2 = first.find(' ', sp1 + 1);
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    req.path = req.target.substr(0, req.target.find('?'));
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      std::size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      if (auto colon = line.find(':'); colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        req.headers[name] = value;
      }
      pos = next + 2;
    }
    if (req.header("transfer-encoding").find("chunked") != std::string::npos) {
      while (true) {
        std::size_t nl;
        while ((nl = buf.find("\r\n")) == std::string::npos) {
          if (!read_more(fd, buf)) return false;
        }
        std::size_t size = std::stoul(buf.substr(0, nl), nullptr, 16);
        buf.erase(0, nl + 2);
        while (buf.size() < size + 2) {
          if (!read_more(fd, buf)) return false;
        }
        req.body.append(buf, 0, size);
        buf.erase(0, size + 2);
        if (size == 0) break;
      }
    } else {
      std::size_t length =
          req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
      while (buf.size() < length) {
        if (!read_more(fd, buf)) return false;
      }
      req.body = buf.substr(0, length);
    }
    return true;
  }

  static bool send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  void serve(int fd) {
    HttpRequest req;
    if (!read_request(fd, req)) return;
    Reply reply;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(req);
      bool scripted = req.method == "POST" && req.path == "/v1/messages" && !script_.empty();
      if (req.method == "POST" && req.path == "/v1/messages") ++messages_count_;
      if (scripted) {
        reply = std::move(script_.front());
        script_.pop_front();
      }
      if (!scripted) reply = fallback_(req);
    }
    cv_.notify_all();
    if (reply.hold) {
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, kMaxHold, [&] { return released_; });
      if (stopping_) return;
    }
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                       (reply.status == 200 ? "OK" : "Status") + "\r\n";
    for (const auto& [k, v] : reply.headers) head += k + ": " + v + "\r\n";
    std::string whole;
    for (const auto& c : reply.chunks) whole += c;
    if (reply.chunked) {
      head += "transfer-encoding: chunked\r\n";
    } else {
      head += "content-length: " + std::to_string(whole.size()) + "\r\n";
    }
    head += "connection: close\r\n\r\n";
    if (req.method == "HEAD") {
      send_all(fd, head);
      return;
    }
    if (!reply.chunked) {
      if (reply.drop) whole = whole.substr(0, whole.size() / 2);
      send_all(fd, head + whole);
      return;
    }
    if (!send_all(fd, head)) return;
    for (const auto& c : reply.chunks) {
      if (c.empty()) continue;
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", c.size());
      if (!send_all(fd, size + c + "\r\n")) return;
    }
    if (!reply.drop) send_all(fd, "0\r\n\r\n");
    ::shutdown(fd, SHUT_WR);
  }

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  std::vector<int> open_;
  std::deque<Reply> script_;
  Handler fallback_;
  std::vector<HttpRequest> requests_;
  std::size_t messages_count_ = 0;
  bool released_ = false;
  bool stopping_ = false;
};

}  // namespace durable::claude::testing
