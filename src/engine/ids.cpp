#include "engine/ids.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>

#include "durable/errors.hpp"

namespace durable::detail {
namespace {

constexpr std::size_t kExecutionIdHexChars = 20;
constexpr std::string_view kHexDigits = "0123456789abcdef";

// Incremented in the child of every fork() (secure_random_u64's buffers).
std::atomic<std::uint64_t> g_fork_generation{0};

std::string to_hex(const unsigned char* bytes, std::size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHexDigits[bytes[i] >> 4]);
    out.push_back(kHexDigits[bytes[i] & 0x0F]);
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw DurableError("SHA-256 failed in OpenSSL");
  }
  return to_hex(digest.data(), length);
}

std::string execution_id_for(std::string_view workflow, std::string_view idempotency_key) {
  std::string input;
  input.reserve(workflow.size() + 1 + idempotency_key.size());
  input.append(workflow).push_back('\0');
  input.append(idempotency_key);
  std::string id(workflow);
  id.push_back('-');
  id.append(sha256_hex(input), 0, kExecutionIdHexChars);
  return id;
}

std::string random_execution_id(std::string_view workflow, std::int64_t now_ms) {
  const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(now_ms, 0)) & 0xFFFF'FFFF'FFFF;
  return fmt::format("{}-{:012x}{:016x}", workflow, ms, secure_random_u64());
}

std::string format_uuid_v4(std::uint64_t hi, std::uint64_t lo) {
  // Byte 6 carries the version in its high nibble; byte 8 the variant (binary 10) in its top bits.
  hi = (hi & ~std::uint64_t{0xF000}) | std::uint64_t{0x4000};
  lo = (lo & ~(std::uint64_t{0xC0} << 56)) | (std::uint64_t{0x80} << 56);
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                     hi & 0xFFFF, lo >> 48, lo & 0xFFFF'FFFF'FFFF);
}

std::uint64_t secure_random_u64() {
  // RAND_bytes costs about as much for 256 bytes as for 8 (~10,000 instructions a call, most of it
  // per call): draw a block per thread and hand it out in 64-bit pieces. A forked child must not
  // hand out what its parent drew: it bumps the generation, which discards the buffer.
  static std::once_flag at_fork_once;
  std::call_once(at_fork_once, [] {
    pthread_atfork(nullptr, nullptr,
                   [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); });
  });
  struct Buffer {
    std::array<std::uint64_t, 32> values{};
    std::size_t next = 32;  // values[next..] are unused; none at first
    std::uint64_t generation = 0;
  };
  thread_local Buffer buffer;
  const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (buffer.next == buffer.values.size() || buffer.generation != generation) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(buffer.values.data()),
                   static_cast<int>(sizeof buffer.values)) != 1) {
      buffer.next = buffer.values.size();
      throw DurableError(
          fmt::format("the system random generator failed (OpenSSL error {:#x})", ERR_get_error()));
    }
    buffer.next = 0;
    buffer.generation = generation;
  }
  std::uint64_t value = buffer.values[buffer.next];
  buffer.values[buffer.next++] = 0;  // handed out: not kept
  return value;
}

}  // namespace durable::detail
