// ProgressPrinter: the one place where approval_gate prints progress while it happens.
//
// Two feeds today:
//   - step(): the workflow's step boundaries (printed only while the workflow runs live, never
//     during a replay) and `run`'s own look at the journal ("waiting for approval");
//   - stream(): a Claude query's EventSink, turned into indented lines as text arrives.
// When executions get their own event stream (ctx.report_progress / engine.subscribe), the
// workflow reports the same Steps through it and `run` feeds step() from engine.subscribe: only
// the callers change, not what is printed.
//
// Thread-safe: steps come from the scheduler and from `run`'s thread, stream events from
// activity worker threads. Every line is written whole and flushed.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <durable/claude/event_sink.hpp>

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

class ProgressPrinter {
 public:
  // Prints "<step>" or "<step> (<detail>)" on one line.
  void step(Step step, std::string_view detail = {});

  // A sink for one Claude query: text is printed line by line as "  <label> | <line>" as soon
  // as each line is complete, tool calls as "  <label> | [tool] <name>". finish() prints what is
  // left of an unfinished last line; call it when the query ends, however it ends.
  class Stream {
   public:
    virtual ~Stream() = default;
    virtual durable::claude::EventSink sink() = 0;
    virtual void finish() = 0;
  };
  std::unique_ptr<Stream> stream(std::string label);
};

// The process's printer (the example has one console).
ProgressPrinter& progress();

// One line of console output, flushed; shared by the printer, the token announcement and `run`.
void say(const std::string& line);

// While held, say() from any thread but the holder's keeps lines back (in order) instead of
// printing them; releasing prints them. `run` holds output from starting the engine until it has
// said which execution this is, so the workflow's first steps never come before that.
void hold_output();
void release_output();

}  // namespace approval_gate
