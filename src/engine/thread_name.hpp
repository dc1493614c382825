// Names the calling thread (Linux: at most 15 characters), so that top, gdb and perf show which of
// a process's threads are durable's and what each does. Best effort: a failure changes nothing.
#pragma once

#include <pthread.h>

namespace durable::detail {

inline void name_this_thread(const char* name) noexcept {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), name);
#else
  (void)name;
#endif
}

}  // namespace durable::detail
