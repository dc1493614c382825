// Starting the Claude Code CLI as a child process that cannot outlive its parent.
#pragma once

#include <sys/types.h>

#include <string>

namespace durable::claude::detail {

struct SpawnRequest {
  std::string executable;  // a path, or a bare name looked up in PATH
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int stdin_fd = -1;  // dup2'ed onto 0, 1 and 2 in the child
  int stdout_fd = -1;
  int stderr_fd = -1;
  std::string cwd;  // empty: the parent's
};

// Starts the child in a process group of its own (so it can be killed with everything it started)
// with no signal blocked and every disposition at its default. The child is also asked to be
// killed (SIGKILL) when the thread that started it dies: a `run` killed with SIGKILL must not leave
// Claude Code running on and editing files while its restarted self retries the same query. (Only
// the CLI itself gets that signal; tools it started are orphaned with it.)
//
// Returns the child's pid. On failure returns -1 with errno set: ENOENT when the executable is
// not found, EACCES or ENOEXEC when it cannot be run, anything else for a resource failure.
// Must be called from a thread that outlives the child (an activity worker runs the query to the
// end, so it does).
pid_t spawn_guarded(const SpawnRequest& request);

}  // namespace durable::claude::detail
