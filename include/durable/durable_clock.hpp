// DurableClock: the durable sleeps as free functions (same as ctx.sleep / ctx.sleep_until).
#pragma once

#include "durable/workflow_context.hpp"

namespace durable {

struct DurableClock {
  static Op<void> sleep(WorkflowContext& ctx, std::string_view name, Duration duration) {
    return ctx.sleep(name, duration);
  }
  static Op<void> sleep_until(WorkflowContext& ctx, std::string_view name, TimePoint time) {
    return ctx.sleep_until(name, time);
  }
};

}  // namespace durable
