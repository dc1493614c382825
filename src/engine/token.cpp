#include "engine/token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fmt/format.h>
#include <array>
#include <cstdint>

#include "durable/errors.hpp"

namespace durable::detail {
namespace {

constexpr std::string_view kPrefix = "dt1.";
// Domain separation: the store secret may key other MACs later; none can be confused with a token.
constexpr std::string_view kMacContext{"durable-token-v1\0", 17};
constexpr std::size_t kMacLength = 32;
constexpr std::size_t kMaxFieldLength = 0xFFFF;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> table{};
  table.fill(-1);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}
constexpr std::array<std::int8_t, 256> kDecodeTable = make_decode_table();

using Mac = std::array<unsigned char, kMacLength>;

void require_secret(std::string_view secret) {
  if (secret.size() < kMinTokenSecretLength) {
    throw DurableError(fmt::format("token secret is too short: {} bytes, at least {} required",
                                   secret.size(), kMinTokenSecretLength));
  }
}

Mac compute_mac(std::string_view payload, std::string_view secret) {
  std::string input;
  input.reserve(kMacContext.size() + payload.size());
  input.append(kMacContext).append(payload);
  Mac mac{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(),
           &length) == nullptr ||
      length != kMacLength) {
    throw DurableError("token: HMAC-SHA256 failed in OpenSSL");
  }
  return mac;
}

void append_field(std::string& out, std::string_view field) {
  out.push_back(static_cast<char>((field.size() >> 8) & 0xFF));
  out.push_back(static_cast<char>(field.size() & 0xFF));
  out.append(field);
}

// Reads one length-prefixed field at `pos`, advancing it; false if the payload is too short.
bool read_field(std::string_view payload, std::size_t& pos, std::string& out) {
  if (payload.size() - pos < 2) return false;
  const std::size_t length =
      (static_cast<std::size_t>(static_cast<unsigned char>(payload[pos])) << 8) |
      static_cast<unsigned char>(payload[pos + 1]);
  pos += 2;
  if (payload.size() - pos < length) return false;
  out.assign(payload.substr(pos, length));
  pos += length;
  return true;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = byte(i) << 16;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
  } else if (rest == 2) {
    const std::uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
  }
  return out;
}

bool base64url_decode(std::string_view text, std::string& out) {
  if (text.size() % 4 == 1) return false;
  out.clear();
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const std::int8_t v = kDecodeTable[static_cast<unsigned char>(c)];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Canonical form only: the bits left over after the last full byte must be zero.
  return (acc & ((1U << bits) - 1)) == 0;
}

std::string encode_token(const TokenClaims& claims, std::string_view secret) {
  require_secret(secret);
  if (claims.execution_id.size() > kMaxFieldLength || claims.deferred.size() > kMaxFieldLength) {
    throw DurableError(
        fmt::format("token claims are too long: execution id {} bytes, deferred name {} bytes",
                    claims.execution_id.size(), claims.deferred.size()));
  }
  std::string payload;
  payload.reserve(4 + claims.execution_id.size() + claims.deferred.size());
  append_field(payload, claims.execution_id);
  append_field(payload, claims.deferred);
  const Mac mac = compute_mac(payload, secret);

  std::string token(kPrefix);
  token += base64url_encode(payload);
  token += '.';
  token +=
      base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  if (token.size() > kMaxTokenLength) {
    throw DurableError(fmt::format(
        "token claims are too long: the token would be {} bytes, at most {} are allowed "
        "(execution id {} bytes, deferred name {} bytes)",
        token.size(), kMaxTokenLength, claims.execution_id.size(), claims.deferred.size()));
  }
  return token;
}

TokenClaims decode_token(std::string_view token, std::string_view secret) {
  require_secret(secret);
  if (token.empty()) throw InvalidToken("token is empty");
  if (token.size() > kMaxTokenLength) {
    throw InvalidToken(fmt::format("token is too long: {} bytes, at most {} are allowed",
                                   token.size(), kMaxTokenLength));
  }
  if (!token.starts_with(kPrefix)) {
    throw InvalidToken("token is not a durable token (expected the prefix \"dt1.\")");
  }
  const std::string_view body = token.substr(kPrefix.size());
  const std::size_t dot = body.find('.');
  if (dot == std::string_view::npos) {
    throw InvalidToken("token is truncated: its MAC is missing");
  }
  std::string payload;
  std::string mac;
  if (!base64url_decode(body.substr(0, dot), payload) ||
      !base64url_decode(body.substr(dot + 1), mac)) {
    throw InvalidToken("token is not valid base64url");
  }
  if (mac.size() != kMacLength) {
    throw InvalidToken("token was not issued by this store or was altered (bad MAC length)");
  }
  const Mac expected = compute_mac(payload, secret);
  if (CRYPTO_memcmp(expected.data(), mac.data(), kMacLength) != 0) {
    throw InvalidToken("token was not issued by this store or was altered");
  }
  // The MAC holds, so only a bug in encode_token or a leaked secret can bring us here; still, a
  // payload is never trusted to be well formed.
  TokenClaims claims;
  std::size_t pos = 0;
  if (!read_field(payload, pos, claims.execution_id) ||
      !read_field(payload, pos, claims.deferred) || pos != payload.size()) {
    throw InvalidToken("token payload is malformed");
  }
  return claims;
}

}  // namespace durable::detail
