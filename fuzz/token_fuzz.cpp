// libFuzzer target for decode_token. Every input is used twice:
//  1. as a token: decode_token throws nothing but durable::InvalidToken, never crashes (ASan,
//     UBSan), and an input that decodes is byte for byte what encode_token makes of its claims, so
//     a token has exactly one textual form;
//  2. as a payload, signed here with the fuzz secret: the fuzzer cannot forge MACs, so this is the
//     only way it reaches the payload parser behind the MAC check. The result must decode, or be
//     refused as a malformed payload, and re-encode exactly.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "durable/errors.hpp"
#include "engine/token.hpp"
#include "token_fuzz_secret.hpp"

namespace {

using durable::detail::TokenClaims;
constexpr std::string_view kSecret = durable::fuzz::kTokenFuzzSecret;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "token_fuzz: %s%s%.*s\n", what, detail.empty() ? "" : ": ",
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// Decodes; nullopt for InvalidToken (whose message goes to *message), abort for anything else.
std::optional<TokenClaims> decode(std::string_view token, std::string* message = nullptr) {
  try {
    return durable::detail::decode_token(token, kSecret);
  } catch (const durable::InvalidToken& e) {
    if (message != nullptr) *message = e.what();
    return std::nullopt;
  } catch (const std::exception& e) {
    fail("decode_token threw something other than InvalidToken", e.what());
  } catch (...) {
    fail("decode_token threw a non-std exception");
  }
}

void check_reencodes(const TokenClaims& claims, std::string_view token) {
  if (durable::detail::encode_token(claims, kSecret) != token) {
    fail("a token decoded but re-encoding its claims gives a different token", token);
  }
}

// Mirrors the version-1 format documented in engine/token.hpp.
std::string sign_payload(std::string_view payload) {
  std::string input("durable-token-v1\0", 17);
  input.append(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return "dt1." + durable::detail::base64url_encode(payload) + "." +
         durable::detail::base64url_encode(
             std::string_view(reinterpret_cast<const char*>(mac), length));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (const auto claims = decode(input)) check_reencodes(*claims, input);

  // Payloads this long make tokens over the length bound; phase 1 covers that refusal.
  if (size <= 2048) {
    const std::string token = sign_payload(input);
    std::string message;
    if (const auto claims = decode(token, &message)) {
      check_reencodes(*claims, token);
    } else if (message != "token payload is malformed") {
      fail("a correctly signed token was refused for another reason (format drift?)", message);
    }
  }
  return 0;
}
