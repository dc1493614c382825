// Event streams: each execution's durable, ordered stream of entries (status changes, progress,
// logs, Claude output as it arrives). The operations on them are part of JournalStore
// (journal_store.hpp); this header holds the values they take and return. Engine::subscribe
// (stream_subscription.hpp) follows a stream live.
//
// A stream is not the journal: replay never reads it, and workflow code cannot observe it. It is
// for people and tools watching an execution.
//
// Offsets are 0, 1, 2, ... per execution with no gap. Entry 0 is written by the creation of the
// execution: kind "status", data {"status":"started","workflow":...}. Every later status change
// the engine commits appends a "status" entry in the same commit. The entry written with a final
// status (completed, failed, cancelled) is the stream's last: appends to a finished execution are
// dropped, so a reader that saw a final status and then read to the end has seen everything.
//
// Deduplication: an entry may carry a key, unique per execution. Appending an entry whose key is
// already in the stream appends nothing (the earlier entry stays, with its offset and data). The
// engine keys every entry it writes:
//   "status:<journal index>:<status>[:<waiting on>]"  status changes
//   "wf:<op>:<n>"            the n-th ctx.emit since workflow operation <op> began (replays of the
//                            same code produce the same keys)
//   "act:<op>:<attempt>:<n>" the n-th actx.emit of attempt <attempt> of activity operation <op>
// From the second run of an execution that continued as new (the stream carries on across runs
// while the journal starts again), these keys begin with "run<N>/".
#pragma once

#include <cstdint>
#include <string>

#include "durable/clock.hpp"

namespace durable {

struct NewStreamEntry {
  std::string kind{};  // a short name: "status", "progress", "log", "claude.text", ...; not empty
  std::string data{};  // JSON text, or empty for none
  TimePoint time{};
  std::string key{};  // deduplication key, unique per execution; empty: never deduplicated
};

struct StreamEntry {
  std::int64_t offset = 0;
  std::string kind{};
  std::string data{};  // JSON text, or empty
  TimePoint time{};
  std::string key{};
};

}  // namespace durable
