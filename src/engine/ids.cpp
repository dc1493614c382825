#include "engine/ids.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>

#include "durable/errors.hpp"

namespace durable::detail {
namespace {

constexpr std::size_t kExecutionIdHexChars = 20;
constexpr std::string_view kHexDigits = "0123456789abcdef";

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
  std::array<unsigned char, 8> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw DurableError(
        fmt::format("the system random generator failed (OpenSSL error {:#x})", ERR_get_error()));
  }
  std::uint64_t value = 0;
  for (unsigned char b : bytes) value = (value << 8) | b;
  return value;
}

}  // namespace durable::detail
