#include "claude/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace durable::claude::detail {

namespace {

// PATH lookup before fork(): the child may only make async-signal-safe calls.
std::string resolve(const std::string& executable) {
  if (executable.find('/') != std::string::npos) return executable;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + executable;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

[[noreturn]] void report_errno_and_exit(int report_fd) {
  int error = errno;
  [[maybe_unused]] auto n = ::write(report_fd, &error, sizeof error);
  ::_exit(127);
}

// In the child, between fork() and exec: async-signal-safe calls only. Reports errno through
// `report_fd` (close-on-exec, so a successful exec closes it without a word).
[[noreturn]] void become_child(const SpawnRequest& request, const char* path, pid_t parent,
                               int report_fd) {
  auto fail = [report_fd] { report_errno_and_exit(report_fd); };
  if (::setpgid(0, 0) != 0) fail();
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail();
  // The parent may have died before prctl: then nobody would ever send the signal.
  if (::getppid() != parent) ::_exit(127);
  if (::dup2(request.stdin_fd, STDIN_FILENO) < 0) fail();
  if (::dup2(request.stdout_fd, STDOUT_FILENO) < 0) fail();
  if (::dup2(request.stderr_fd, STDERR_FILENO) < 0) fail();
  if (!request.cwd.empty() && ::chdir(request.cwd.c_str()) != 0) fail();
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(path, request.argv, request.envp);
  report_errno_and_exit(report_fd);
}

}  // namespace

pid_t spawn_guarded(const SpawnRequest& request) {
  std::string path = resolve(request.executable);
  if (path.empty()) {
    errno = ENOENT;
    return -1;
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return -1;
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int error = errno;
    ::close(report[0]);
    ::close(report[1]);
    errno = error;
    return -1;
  }
  if (pid == 0) {
    ::close(report[0]);
    become_child(request, path.c_str(), parent, report[1]);
  }
  ::close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    // exec failed: reap the child, which has exited with 127.
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    errno = child_errno;
    return -1;
  }
  return pid;
}

}  // namespace durable::claude::detail
