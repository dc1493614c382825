#include "cli/json_view.hpp"

#include "cli/time_format.hpp"

namespace durable::cli {

Json stored_json(const std::string& text) {
  if (text.empty()) return nullptr;
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return value.is_discarded() ? Json(text) : value;
}

Json execution_json(const ExecutionRecord& record) {
  return Json{
      {"id", record.id},
      {"workflow", record.workflow},
      {"status", std::string(to_string(record.status))},
      {"waiting_on", record.waiting_on},
      {"cancel_requested", record.cancel_requested},
      {"events", record.next_index},
      {"created_at", iso8601(record.created_at)},
      {"updated_at", iso8601(record.updated_at)},
      {"input", stored_json(record.input)},
      {"result", stored_json(record.result)},
      {"error", stored_json(record.error)},
      {"run", record.run},
      {"forked_from", record.forked_from},
  };
}

Json event_json(const Event& event) {
  return Json{
      {"index", event.index},
      {"time", iso8601(event.time)},
      {"type", to_string(event.type)},
      {"op", event.op < 0 ? Json(nullptr) : Json(event.op)},
      {"name", event.name},
      {"data", stored_json(event.data)},
  };
}

Json stream_entry_json(const StreamEntry& entry) {
  return Json{
      {"offset", entry.offset},
      {"time", iso8601(entry.time)},
      {"kind", entry.kind},
      {"data", stored_json(entry.data)},
      {"key", entry.key.empty() ? Json(nullptr) : Json(entry.key)},
  };
}

}  // namespace durable::cli
