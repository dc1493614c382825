// ProgressPrinter: the one place where approval_gate prints progress while it happens.
//
// Everything it prints comes from the execution's event stream, which `run` follows with
// engine.subscribe: the workflow's steps and each query's start ("progress" entries that
// progress_entry() makes), and Claude's output as AgentActivity publishes it ("claude.text",
// "claude.tool_use", "claude.message", "claude.result"). The stream is durable and exactly once,
// so a `run` started again after a kill prints what happens from then on, and nothing twice.
//
// Thread-safety: say() may be called from any thread (every line is written whole and flushed);
// a ProgressPrinter is used by one thread, the one following the stream.
#pragma once

#include <string>
#include <string_view>

#include <durable/codec.hpp>
#include <durable/stream_entry.hpp>

namespace approval_gate {

enum class Step {
  kPlanning,     // the plan query starts (each attempt)
  kPlanDrafted,  // its result is journaled
  kWaiting,      // the wait for a decision is journaled
  kApproved,     // a decision arrived
  kRejected,     // a rejection arrived, or the wait timed out
  kCoolingDown,  // the durable sleep before carrying out
  kExecuting,    // the carry-out query starts (each attempt)
  kDone,         // the carry-out result is journaled
  kWithdrawing,  // the compensation runs
};

// The words a step prints as: "plan drafted", "waiting for approval", …
std::string_view to_string(Step step);

// The data of a "progress" entry for `step`: {"step": words, "detail"?, "query"?}. `query` names
// the Claude query whose output follows (its lines are printed under that label).
durable::Json progress_entry(Step step, std::string_view detail = {}, std::string_view query = {});

class ProgressPrinter {
 public:
  // Prints "<step>" or "<step> (<detail>)" on one line.
  void step(Step step, std::string_view detail = {});

  // Prints one entry of the stream: a progress entry as a step; Claude's text line by line as
  // "  <query> | <line>" once each line is complete (the rest when the query's result arrives),
  // and its tool calls as "  <query> | [tool] <name>". Other kinds print nothing.
  void entry(const durable::StreamEntry& entry);

 private:
  void flush();

  std::string label_ = "claude";
  std::string pending_;  // the unfinished last line of Claude's text
  std::int64_t pending_index_ = -1;
};

// One line of console output, flushed.
void say(const std::string& line);

}  // namespace approval_gate
