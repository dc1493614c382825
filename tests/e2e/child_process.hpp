// A child process for end-to-end tests: posix_spawn with its stdout and stderr captured by reader
// threads, so a test can wait (with a bound) for a line of output or for the exit. The destructor
// kills (SIGKILL) and reaps a child that is still running: no test leaves a process behind.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace durable::testing {

class ChildProcess {
 public:
  // `args[0]` is the executable's path. The child gets our environment with `extra_env` applied:
  // "NAME=value" sets NAME (replacing ours), a bare "NAME" removes it.
  explicit ChildProcess(std::vector<std::string> args, std::vector<std::string> extra_env = {}) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);

    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
      bool overridden = false;
      for (const auto& x : extra_env) overridden = overridden || name_of(x) == name_of(*e);
      if (!overridden) envp.push_back(*e);
    }
    for (auto& e : extra_env) {
      if (e.find('=') != std::string::npos) envp.push_back(e.data());
    }
    envp.push_back(nullptr);

    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
      close(out[0]);
      close(err[0]);
      throw std::runtime_error("posix_spawn " + args[0] + ": " + std::strerror(rc));
    }
    readers_.emplace_back([this, fd = out[0]] { drain(fd, out_); });
    readers_.emplace_back([this, fd = err[0]] { drain(fd, err_); });
    reaper_ = std::thread([this] { reap(); });
  }

  ~ChildProcess() {
    kill_hard();
    reaper_.join();
    for (auto& t : readers_) t.join();
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // SIGKILL, if it still runs; the exit status then reads 128 + 9.
  void kill_hard() {
    std::lock_guard lock(mutex_);
    if (!status_) ::kill(pid_, SIGKILL);
  }

  // The rest of the first complete stdout line that starts with `prefix`, once it appears.
  std::optional<std::string> wait_for_line(const std::string& prefix,
                                           std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    std::optional<std::string> found;
    cv_.wait_for(lock, timeout, [&] {
      found = find_line(out_, prefix);
      return found.has_value() || (status_ && readers_done_ == 2);
    });
    return found;
  }

  // The exit status (128 + signal for a signal) once the process has ended and its output is
  // complete, or nullopt after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return status_ && readers_done_ == 2; });
    return readers_done_ == 2 ? status_ : std::nullopt;
  }

  std::string out() const {
    std::lock_guard lock(mutex_);
    return out_;
  }
  std::string err() const {
    std::lock_guard lock(mutex_);
    return err_;
  }

 private:
  static std::optional<std::string> find_line(const std::string& text, const std::string& prefix) {
    for (std::size_t start = 0; start < text.size();) {
      std::size_t end = text.find('\n', start);
      if (end == std::string::npos) break;
      if (text.compare(start, prefix.size(), prefix) == 0 && end - start >= prefix.size()) {
        return text.substr(start + prefix.size(), end - start - prefix.size());
      }
      start = end + 1;
    }
    return std::nullopt;
  }

  void drain(int fd, std::string& into) {
    char buffer[4096];
    for (;;) {
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      std::lock_guard lock(mutex_);
      into.append(buffer, static_cast<std::size_t>(n));
      cv_.notify_all();
    }
    close(fd);
    std::lock_guard lock(mutex_);
    ++readers_done_;
    cv_.notify_all();
  }

  // Waits without reaping, then reaps under the lock: kill_hard() can never signal a pid that
  // was reaped and reused.
  void reap() {
    siginfo_t info{};
    while (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    std::lock_guard lock(mutex_);
    int status = 0;
    waitpid(pid_, &status, 0);
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    cv_.notify_all();
  }

  pid_t pid_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string out_, err_;
  int readers_done_ = 0;
  std::optional<int> status_;
  std::vector<std::thread> readers_;
  std::thread reaper_;
};

}  // namespace durable::testing
