// Authenticated deferred tokens: an opaque string naming an execution and a deferred, carrying an
// HMAC under the store's secret so that it cannot be forged or altered.
//
// Format (version 1), every byte in [A-Za-z0-9_.-], so a token is safe in a URL and, since it
// starts with a letter, as a shell argument that is never mistaken for an option:
//
//   token   = "dt1." base64url(payload) "." base64url(mac)
//   payload = u16be(len(execution_id)) execution_id u16be(len(deferred)) deferred
//   mac     = HMAC-SHA256(secret, "durable-token-v1" 0x00 payload)
//
// base64url is RFC 4648 section 5 without padding, decoded strictly (no padding, no whitespace, the
// unused low bits of the last character must be zero) so that each payload and MAC has exactly one
// textual form: a token that decodes was produced by encode_token, byte for byte. The claims are
// arbitrary bytes ('.', NUL, non-UTF-8 included); lengths are prefixed, so nothing is ambiguous.
// A token is at most kMaxTokenLength bytes; longer input is refused before any decoding.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace durable::detail {

struct TokenClaims {
  std::string execution_id;
  std::string deferred;

  friend bool operator==(const TokenClaims&, const TokenClaims&) = default;
};

inline constexpr std::size_t kMaxTokenLength = 4096;
// A shorter secret is a programming error (the store makes 32 random bytes), not a bad token.
inline constexpr std::size_t kMinTokenSecretLength = 16;

// Throws durable::DurableError if the secret is shorter than kMinTokenSecretLength or the claims
// are too long for a token of at most kMaxTokenLength bytes.
std::string encode_token(const TokenClaims& claims, std::string_view secret);

// Throws durable::InvalidToken for anything malformed, truncated, oversized, forged or altered; the
// message says what is wrong and never contains the secret or a MAC. Throws durable::DurableError
// (not InvalidToken) only for a secret shorter than kMinTokenSecretLength or an OpenSSL failure.
TokenClaims decode_token(std::string_view token, std::string_view secret);

// Strict, unpadded RFC 4648 base64url; exposed for tests. base64url_decode returns false for any
// character outside the alphabet, an impossible length (n % 4 == 1) or non-zero unused bits.
std::string base64url_encode(std::string_view bytes);
bool base64url_decode(std::string_view text, std::string& out);

}  // namespace durable::detail
