// libFuzzer target for the NDJSON reader and the CLI message fold. The input is fed in pieces
// whose sizes come from its first byte. Properties:
//  - nothing crashes (ASan, UBSan); the fold throws nothing but the typed Claude errors;
//  - the objects read do not depend on how the bytes were split;
//  - every object read is a JSON object (the reader drops everything else).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "claude/cli_messages.hpp"
#include "claude/ndjson_reader.hpp"
#include "durable/claude/errors.hpp"

namespace {

using durable::claude::detail::NdjsonReader;
using nlohmann::json;

std::vector<json> read(std::string_view bytes, std::size_t piece) {
  NdjsonReader reader;
  std::vector<json> out;
  for (std::size_t i = 0; i < bytes.size(); i += piece) {
    for (auto& j : reader.feed(bytes.substr(i, piece))) out.push_back(std::move(j));
  }
  for (auto& j : reader.finish()) out.push_back(std::move(j));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t piece = data[0] % 16 + 1;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto whole = read(bytes, bytes.size() + 1);
  auto pieces = read(bytes, piece);
  if (whole != pieces) {
    std::fprintf(stderr, "ndjson_fuzz: objects differ with pieces of %zu\n", piece);
    std::abort();
  }
  durable::claude::EventSink sink = [](const durable::claude::StreamEvent&) {};
  durable::claude::detail::CliSession session(sink);
  for (const auto& j : whole) {
    if (!j.is_object()) std::abort();
    session.on_message(j);
  }
  try {
    (void)session.finish("fuzz");
  } catch (const durable::claude::RetryableError&) {
  } catch (const durable::claude::PermanentError&) {
  }
  return 0;
}
