// The public API of durable in one include.
#pragma once

#include "durable/activity.hpp"
#include "durable/clock.hpp"
#include "durable/codec.hpp"
#include "durable/combinators.hpp"
#include "durable/durable_clock.hpp"
#include "durable/durable_deferred.hpp"
#include "durable/engine.hpp"
#include "durable/errors.hpp"
#include "durable/execution_status.hpp"
#include "durable/journal_store.hpp"
#include "durable/memory_store.hpp"
#include "durable/op.hpp"
#include "durable/retry_policy.hpp"
#include "durable/task.hpp"
#include "durable/workflow.hpp"
#include "durable/workflow_context.hpp"
