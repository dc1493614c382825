#include "durable/claude/cli_transport.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>
#include <thread>

#include "claude/cli_messages.hpp"
#include "claude/ndjson_reader.hpp"
#include "claude/redact.hpp"
#include "claude/spawn.hpp"
#include "durable/claude/errors.hpp"

extern char** environ;

namespace durable::claude {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kStderrTail = 4096;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
}

std::string format_number(double value) {
  std::ostringstream s;
  s << value;
  return s.str();
}

// A pipe whose ends close themselves.
struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (::pipe2(fd, O_CLOEXEC) != 0) {
      throw RetryableError(std::string("Claude CLI: pipe failed: ") + std::strerror(errno),
                           {.type = "spawn_error"});
    }
  }
  ~Pipe() {
    close_end(0);
    close_end(1);
  }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

// The child (spawn_guarded: its own process group, killed if its parent dies); killed
// (group-wide) and reaped if still running when this goes out of scope.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (!reaped_) terminate(std::chrono::milliseconds(0));
  }
  // Non-blocking; true once the child has exited (status in status()).
  bool poll_exit() {
    if (reaped_) return true;
    pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) reaped_ = true;
    return reaped_;
  }
  // Waits until `deadline` for the child to exit on its own.
  bool wait_until(Clock::time_point deadline) {
    while (!poll_exit()) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  // SIGTERM to the group, then SIGKILL after `grace`; reaps.
  void terminate(std::chrono::milliseconds grace) {
    if (poll_exit()) return;
    ::kill(-pid_, SIGTERM);
    if (wait_until(Clock::now() + grace)) return;
    ::kill(-pid_, SIGKILL);
    while (!reaped_) {
      pid_t r = ::waitpid(pid_, &status_, 0);
      if (r == pid_ || (r < 0 && errno != EINTR)) reaped_ = true;
    }
  }
  std::string describe() const {
    if (!reaped_) return "still running";
    if (WIFEXITED(status_)) return "exit status " + std::to_string(WEXITSTATUS(status_));
    if (WIFSIGNALED(status_)) return "killed by signal " + std::to_string(WTERMSIG(status_));
    return "ended";
  }

 private:
  pid_t pid_;
  int status_ = 0;
  bool reaped_ = false;
};

}  // namespace

CliTransport::CliTransport(CliOptions options) : options_(std::move(options)) {}

std::vector<std::string> CliTransport::arguments(const AgentRequest& r) const {
  std::vector<std::string> args = {"--output-format", "stream-json", "--verbose",
                                   "--input-format",  "stream-json", "-p"};
  if (!r.model.empty()) args.insert(args.end(), {"--model", r.model});
  if (!r.system.empty()) args.insert(args.end(), {"--system-prompt", r.system});
  if (r.max_turns > 0) args.insert(args.end(), {"--max-turns", std::to_string(r.max_turns)});
  if (r.max_budget_usd) {
    args.insert(args.end(), {"--max-budget-usd", format_number(*r.max_budget_usd)});
  }
  if (!r.allowed_tools.empty()) args.insert(args.end(), {"--allowedTools", join(r.allowed_tools)});
  if (!r.disallowed_tools.empty()) {
    args.insert(args.end(), {"--disallowedTools", join(r.disallowed_tools)});
  }
  if (!r.permission_mode.empty()) args.insert(args.end(), {"--permission-mode", r.permission_mode});
  if (!r.resume_session_id.empty()) args.push_back("--resume=" + r.resume_session_id);
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  return args;
}

AgentResult CliTransport::query(const AgentRequest& request, ActivityContext& ctx,
                                const EventSink& sink) {
  // argv and envp, owned here for the spawn.
  std::vector<std::string> args = arguments(request);
  args.insert(args.begin(), options_.executable);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> env_map;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) env_map[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  env_map["CLAUDE_CODE_ENTRYPOINT"] = "sdk-cpp";
  for (const auto& [k, v] : options_.env) env_map[k] = v;
  std::vector<std::string> secrets;
  for (const char* name :
       {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"}) {
    if (auto it = env_map.find(name); it != env_map.end()) secrets.push_back(it->second);
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  Pipe in, out, err;
  pid_t pid = detail::spawn_guarded({.executable = options_.executable,
                                     .argv = argv.data(),
                                     .envp = envp.data(),
                                     .stdin_fd = in.fd[0],
                                     .stdout_fd = out.fd[1],
                                     .stderr_fd = err.fd[1],
                                     .cwd = request.cwd});
  int rc = pid < 0 ? errno : 0;
  if (rc != 0) {
    std::string what = "Claude CLI: cannot run '" + options_.executable + "': " + std::strerror(rc);
    if (rc == ENOENT || rc == EACCES || rc == ENOEXEC) {
      throw PermanentError(what, {.type = "spawn_error"});
    }
    throw RetryableError(what, {.type = "spawn_error"});
  }
  Child child(pid);
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);
  sink({.kind = StreamEventKind::kStatus, .text = "spawned", .data = {{"pid", pid}}});

  std::string stdin_data = json{{"type", "user"},
                                {"session_id", ""},
                                {"message", {{"role", "user"}, {"content", request.prompt}}},
                                {"parent_tool_use_id", nullptr}}
                               .dump() +
                           "\n";
  std::size_t written = 0;
  ::fcntl(in.fd[1], F_SETFL, O_NONBLOCK);

  detail::NdjsonReader reader;
  detail::CliSession session(sink);
  std::string stderr_tail;
  const auto deadline =
      options_.timeout.count() > 0 ? Clock::now() + options_.timeout : Clock::time_point::max();
  bool out_open = true, err_open = true;
  char buffer[65536];
  while (out_open || err_open) {
    // A grandchild may keep stderr open after the CLI itself has gone.
    if (!out_open && child.poll_exit()) break;
    if (ctx.cancelled() || Clock::now() >= deadline) {
      bool cancelled = ctx.cancelled();
      child.terminate(options_.kill_grace);
      throw RetryableError(cancelled ? "Claude CLI: cancelled"
                                     : "Claude CLI: timed out after " +
                                           std::to_string(options_.timeout.count()) + " ms",
                           {.type = cancelled ? "cancelled" : "timeout"});
    }
    pollfd fds[3];
    nfds_t n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_open) fds[out_i = static_cast<int>(n++)] = {out.fd[0], POLLIN, 0};
    if (err_open) fds[err_i = static_cast<int>(n++)] = {err.fd[0], POLLIN, 0};
    if (in.fd[1] >= 0) fds[in_i = static_cast<int>(n++)] = {in.fd[1], POLLOUT, 0};
    // Short waits: cancellation is a flag, not a file descriptor.
    int ready = ::poll(fds, n, 50);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (in_i >= 0 && fds[in_i].revents) {
      if (fds[in_i].revents & (POLLERR | POLLHUP)) {
        in.close_end(1);  // the child closed its stdin: nothing more to say
      } else {
        ssize_t w = ::write(in.fd[1], stdin_data.data() + written, stdin_data.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) in.close_end(1);
        if (written == stdin_data.size()) in.close_end(1);  // EOF: one message, then done
      }
    }
    if (out_i >= 0 && fds[out_i].revents) {
      ssize_t r = ::read(out.fd[0], buffer, sizeof buffer);
      if (r > 0) {
        for (const auto& message : reader.feed({buffer, static_cast<std::size_t>(r)})) {
          session.on_message(message);
        }
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        out_open = false;
      }
    }
    if (err_i >= 0 && fds[err_i].revents) {
      ssize_t r = ::read(err.fd[0], buffer, sizeof buffer);
      if (r > 0) {
        stderr_tail.append(buffer, static_cast<std::size_t>(r));
        if (stderr_tail.size() > kStderrTail) {
          stderr_tail.erase(0, stderr_tail.size() - kStderrTail);
        }
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        err_open = false;
      }
    }
  }
  for (const auto& message : reader.finish()) session.on_message(message);
  // stdout closed: the child is exiting. Give it until the deadline (at most the grace period).
  auto wait_until = std::min(deadline, Clock::now() + options_.kill_grace);
  if (!child.wait_until(wait_until)) child.terminate(options_.kill_grace);
  std::string how = child.describe();
  if (!session.has_result() && !stderr_tail.empty()) {
    how += "; stderr: " + detail::redact(stderr_tail.substr(0, 1000), secrets);
  }
  try {
    return session.finish(how);
  } catch (const PermanentError& e) {
    throw PermanentError(detail::redact(e.what(), secrets), e.info());
  } catch (const RetryableError& e) {
    throw RetryableError(detail::redact(e.what(), secrets), e.info());
  }
}

}  // namespace durable::claude
