// The boundary between the typed, header-only API and the compiled engine core. Nothing here is
// for users; it may change in any release.
//
// Threading: every function runs on the engine's scheduler thread, inside workflow code.
#pragma once

#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "durable/activity.hpp"
#include "durable/clock.hpp"
#include "durable/codec.hpp"

namespace durable {
struct RateLimit;
}

namespace durable::detail {

class ExecutionCore;

// What a durable operation ended with, once its journal record is durable.
struct Outcome {
  enum class Kind : std::uint8_t { kValue, kError, kCancelled, kTimedOut };
  Kind kind = Kind::kValue;
  Json data;               // the value, or for kError {"type","message","activity","attempts"}
  std::int64_t index = 0;  // journal index of the event that recorded it (orders races)
};

// A suspended coroutine waiting for one op (remaining = 1), all of several (remaining = n) or
// the first of several (any = true). Lives in the awaiting coroutine's frame.
struct Waiter {
  std::coroutine_handle<> handle;
  int remaining = 1;
  bool any = false;
  bool fired = false;
};

// Thrown (from an await or a side effect) when the execution has been parked as needing
// attention: deliberately not a std::exception, so ordinary handlers do not swallow it. Workflow
// code that catches it anyway cannot make progress: the engine no longer runs the execution.
struct ParkedSignal {};

// Appends the text value.dump() would produce to `out` (scalars without a temporary string).
void append_json(std::string& out, const Json& value);
// The JSON text of an activity's arguments, byte for byte Json::array({encoded...}).dump(), built
// without an array DOM.
template <class... Encoded>
std::string arguments_json(const Encoded&... encoded) {
  std::string out(1, '[');
  auto add = [&out](const Json& value) {
    if (out.size() > 1) out += ',';
    append_json(out, value);
  };
  (add(encoded), ...);
  out += ']';
  return out;
}

// `input` is the JSON text of the argument array (arguments_json).
int begin_activity(ExecutionCore& core, std::shared_ptr<const ActivitySpec> spec, ActivityCall call,
                   std::string input);
int begin_timer(ExecutionCore& core, std::string_view name, std::optional<Duration> after,
                std::optional<TimePoint> at);
int begin_deferred(ExecutionCore& core, std::string_view name, std::optional<Duration> timeout);
struct WorkflowSpec;
int begin_child(ExecutionCore& core, std::shared_ptr<const WorkflowSpec> spec, Json input,
                std::optional<std::string> id);

// A DurableQueue item: enqueued (exactly once) in the commit that journals the op, awaited like a
// deferred. An empty `key` means "<execution id>/<operation index>".
int begin_queue_item(ExecutionCore& core, std::string_view queue, std::string_view key,
                     Json payload);
// A DurableRateLimiter decision, journaled as a side effect: {"granted":true} or
// {"granted":false,"retry_at":<ms>}. `limit` is a RateLimit (journal_store.hpp).
Json acquire_permit(ExecutionCore& core, const RateLimit& limit);

// The op's outcome if it is journaled and durable, else null.
const Outcome* outcome(ExecutionCore& core, int op);
// Starts the op if it is not running yet and registers `waiter` for its outcome.
void wait(ExecutionCore& core, int op, Waiter* waiter);
// The awaiting code is done with the op: stops it if it is still running (a lost race).
void release(ExecutionCore& core, int op) noexcept;
// Parks the execution because a journaled value does not decode; throws ParkedSignal.
[[noreturn]] void park_on_decode_error(ExecutionCore& core, int op, const DecodeError& error);
// Describes an op for error messages ("activity 'draft' (operation 3) of execution X").
std::string describe_op(ExecutionCore& core, int op);

// Ends this run of the workflow and starts the next with `input`
// (WorkflowContext::continue_as_new). The calling coroutine is never resumed. Throws DecodeError if
// `input` does not fit the workflow.
void continue_as_new(ExecutionCore& core, Json input);

// See WorkflowContext::patched and deprecate_patch.
bool patched(ExecutionCore& core, std::string_view change_id, bool record);
Json side_effect(ExecutionCore& core, std::string_view name, const std::function<Json()>& make);
void add_compensation(ExecutionCore& core, std::shared_ptr<const ActivitySpec> spec,
                      ActivityCall call, std::string input);
std::string token(ExecutionCore& core, std::string_view deferred);
const std::string& execution_id(const ExecutionCore& core);
// The engine clock's current time (not journaled: WorkflowContext::now() journals it).
TimePoint clock_now(ExecutionCore& core);
bool is_replaying(const ExecutionCore& core);
void emit(ExecutionCore& core, std::string_view kind, const Json& data);

}  // namespace durable::detail
