#include "engine/token.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "durable/errors.hpp"

namespace durable::detail {
namespace {

// Printable on purpose, so that a leak into a message would be found by a substring search.
const std::string kSecret = "test-secret-0123456789abcdefghijk";
const std::string kOtherSecret = "other-secret-0123456789abcdefghij";

const TokenClaims kClaims{"publish-0123456789abcdef0123", "approval"};

// Decodes, requiring failure with InvalidToken (and nothing else); returns the message.
std::string expect_invalid(std::string_view token, std::string_view secret = kSecret) {
  try {
    decode_token(token, secret);
  } catch (const InvalidToken& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InvalidToken, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected InvalidToken, but the token decoded: " << token;
  return {};
}

bool is_url_and_shell_safe(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Builds a correctly signed token around raw payload bytes, following the format documented in
// engine/token.hpp independently of encode_token, to reach the payload parser behind the MAC.
std::string sign_payload(std::string_view payload, std::string_view secret = kSecret) {
  std::string input("durable-token-v1\0", 17);
  input.append(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return "dt1." + base64url_encode(payload) + "." +
         base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), length));
}

TEST(Token, RoundTrips) {
  const std::string token = encode_token(kClaims, kSecret);
  EXPECT_EQ(decode_token(token, kSecret), kClaims);
}

TEST(Token, IsDeterministic) {
  EXPECT_EQ(encode_token(kClaims, kSecret), encode_token(kClaims, kSecret));
}

TEST(Token, DifferentClaimsGiveDifferentTokens) {
  EXPECT_NE(encode_token({"a", "bc"}, kSecret), encode_token({"ab", "c"}, kSecret));
  EXPECT_NE(encode_token({"e", "d1"}, kSecret), encode_token({"e", "d2"}, kSecret));
}

TEST(Token, ClaimsWithArbitraryBytesRoundTrip) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  const std::vector<TokenClaims> cases = {
      {"", ""},
      {"a.b.c", "x.y"},
      {std::string("nul\0inside", 10), std::string("\0", 1)},
      {all_bytes, all_bytes},
      {"dt1.", "."},
      {"with space and \"quotes\" and 'apostrophes'", "$(rm -rf /); `id`"},
      {"\xff\xfe\x80 not utf-8", "\xc3\xa9t\xc3\xa9"},
      {std::string(1000, 'x'), std::string(1000, '.')},
  };
  for (const TokenClaims& claims : cases) {
    const std::string token = encode_token(claims, kSecret);
    EXPECT_TRUE(is_url_and_shell_safe(token)) << token;
    EXPECT_EQ(decode_token(token, kSecret), claims);
  }
}

TEST(Token, IsUrlAndShellSafe) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    TokenClaims claims;
    for (int n = static_cast<int>(rng() % 64); n > 0; --n) {
      claims.execution_id.push_back(static_cast<char>(rng()));
    }
    for (int n = static_cast<int>(rng() % 64); n > 0; --n) {
      claims.deferred.push_back(static_cast<char>(rng()));
    }
    const std::string token = encode_token(claims, kSecret);
    ASSERT_TRUE(is_url_and_shell_safe(token)) << token;
    // A leading letter: never read as a command-line option.
    ASSERT_TRUE(std::isalpha(static_cast<unsigned char>(token.front())));
    ASSERT_EQ(decode_token(token, kSecret), claims);
  }
}

TEST(Token, MatchesTheDocumentedFormat) {
  const std::string payload = std::string(
      "\0\x04"
      "exec\0\x03"
      "def",
      11);
  EXPECT_EQ(encode_token({"exec", "def"}, kSecret), sign_payload(payload));
}

TEST(Token, SignedButMalformedPayloadsAreRejected) {
  const std::vector<std::string> payloads = {
      "",
      std::string("\0", 1),
      std::string("\0\x01", 2),           // execution id shorter than its length
      std::string("\0\x01x", 3),          // deferred name missing
      std::string("\0\x01x\0", 4),        // deferred length truncated
      std::string("\0\x01x\0\x02y", 6),   // deferred shorter than its length
      std::string("\0\x01x\0\x01yz", 7),  // trailing bytes
      std::string("\xff\xffx\0\0", 5),    // length beyond the payload
  };
  for (const std::string& payload : payloads) {
    SCOPED_TRACE(testing::Message() << "payload size " << payload.size());
    EXPECT_EQ(expect_invalid(sign_payload(payload)), "token payload is malformed");
  }
}

TEST(Token, TokenFromAnotherSecretIsRejected) {
  const std::string forged = encode_token(kClaims, kOtherSecret);
  const std::string message = expect_invalid(forged);
  EXPECT_NE(message.find("not issued by this store or was altered"), std::string::npos) << message;
}

TEST(Token, EverySingleCharacterChangeIsRejected) {
  const std::string token = encode_token(kClaims, kSecret);
  const std::string replacements =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+/= \n";
  for (std::size_t i = 0; i < token.size(); ++i) {
    for (char c : replacements) {
      if (c == token[i]) continue;
      std::string altered = token;
      altered[i] = c;
      SCOPED_TRACE(testing::Message() << "position " << i << " set to '" << c << "'");
      expect_invalid(altered);
    }
  }
}

TEST(Token, EveryTruncationIsRejected) {
  const std::string token = encode_token(kClaims, kSecret);
  for (std::size_t n = 0; n < token.size(); ++n) {
    SCOPED_TRACE(testing::Message() << "length " << n);
    expect_invalid(std::string_view(token).substr(0, n));
    expect_invalid(std::string_view(token).substr(token.size() - n));
  }
}

TEST(Token, ExtraCharactersAreRejected) {
  const std::string token = encode_token(kClaims, kSecret);
  const std::vector<std::string> extras = {"=", "==", "A", ".", "\n", " ", std::string(1, '\0'),
                                           ".A"};
  for (const std::string& extra : extras) {
    expect_invalid(token + extra);
    expect_invalid(extra + token);
  }
}

TEST(Token, SplicedPartsAreRejected) {
  const std::string a = encode_token({"exec-a", "approval"}, kSecret);
  const std::string b = encode_token({"exec-b", "approval"}, kSecret);
  const std::string spliced = a.substr(0, a.rfind('.')) + b.substr(b.rfind('.'));
  EXPECT_NE(spliced, a);
  expect_invalid(spliced);
}

TEST(Token, GarbageIsRejectedWithInvalidTokenOnly) {
  const std::vector<std::string> inputs = {
      "",
      "dt1.",
      "dt1..",
      "dt1...",
      "dt2.AAAA.AAAA",
      "DT1.AAAA.AAAA",
      "dt1.AAAA",
      "dt1.A.AAAA",
      "dt1.AAAA.A",
      "dt1.AAAA.AAAA",
      "dt1.AAAA." + std::string(43, 'A'),
      "dt1..." + std::string(43, 'A'),
      "dt1.AA==.AAAA",
      "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo",
      std::string(100, '\0'),
      "\xff\xfe\xfd",
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE(testing::Message() << "input '" << input << "'");
    expect_invalid(input);
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string input = i % 2 == 0 ? "dt1." : "";
    for (int n = static_cast<int>(rng() % 120); n > 0; --n) {
      input.push_back(static_cast<char>(rng()));
    }
    expect_invalid(input);
  }
}

TEST(Token, HugeInputIsRejectedBeforeDecoding) {
  const std::string huge = "dt1." + std::string(1 << 20, 'A') + "." + std::string(43, 'A');
  const std::string message = expect_invalid(huge);
  EXPECT_NE(message.find("too long"), std::string::npos) << message;
  expect_invalid(std::string(kMaxTokenLength + 1, 'A'));
}

TEST(Token, ClaimsUpToTheLengthBoundRoundTrip) {
  // Find the longest deferred name that still fits, and check the bound on both sides of it.
  std::size_t fits = 0;
  for (std::size_t n = 2900; n < 3100; ++n) {
    try {
      const TokenClaims claims{"e", std::string(n, 'd')};
      const std::string token = encode_token(claims, kSecret);
      ASSERT_LE(token.size(), kMaxTokenLength);
      ASSERT_EQ(decode_token(token, kSecret), claims);
      fits = n;
    } catch (const InvalidToken&) {
      FAIL() << "encode_token must not throw InvalidToken";
    } catch (const DurableError& e) {
      EXPECT_NE(std::string(e.what()).find("too long"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(fits, 2900u);
  EXPECT_LT(fits, 3099u);
  EXPECT_THROW(encode_token({"e", std::string(70000, 'd')}, kSecret), DurableError);
}

TEST(Token, MessagesNeverContainTheSecretOrTheExpectedMac) {
  const std::string good = encode_token(kClaims, kSecret);
  const std::string expected_mac = good.substr(good.rfind('.') + 1);
  std::vector<std::string> bad = {encode_token(kClaims, kOtherSecret), "", "dt1.x", good + "x",
                                  good.substr(0, good.size() - 1) + "B"};
  std::string altered = good;
  altered[6] = altered[6] == 'A' ? 'B' : 'A';
  bad.push_back(altered);
  for (const std::string& token : bad) {
    const std::string message = expect_invalid(token);
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find(kSecret), std::string::npos) << message;
    EXPECT_EQ(message.find(expected_mac), std::string::npos) << message;
    EXPECT_EQ(message.find(expected_mac.substr(0, 8)), std::string::npos) << message;
  }
}

TEST(Token, ErrorMessagesSayWhatIsWrong) {
  const std::string good = encode_token(kClaims, kSecret);
  EXPECT_NE(expect_invalid("").find("empty"), std::string::npos);
  EXPECT_NE(expect_invalid("dt1.AA+A.AAAA").find("not valid base64url"), std::string::npos);
  EXPECT_NE(expect_invalid("xyz").find("prefix"), std::string::npos);
  EXPECT_NE(expect_invalid(good.substr(0, good.rfind('.'))).find("truncated"), std::string::npos);
}

TEST(Token, ShortSecretIsAProgrammingError) {
  const std::string short_secret(kMinTokenSecretLength - 1, 's');
  try {
    encode_token(kClaims, short_secret);
    FAIL() << "expected DurableError";
  } catch (const InvalidToken&) {
    FAIL() << "a short secret is not a bad token";
  } catch (const DurableError& e) {
    EXPECT_EQ(std::string(e.what()).find(short_secret), std::string::npos);
  }
  EXPECT_THROW(decode_token("dt1.AAAA.AAAA", short_secret), DurableError);
}

TEST(Token, SecretIsRawBytes) {
  std::string binary_secret(32, '\0');
  for (std::size_t i = 0; i < binary_secret.size(); ++i) {
    binary_secret[i] = static_cast<char>(i * 37);
  }
  std::string differs_after_nul = binary_secret;
  differs_after_nul[31] = static_cast<char>(differs_after_nul[31] ^ 1);
  const std::string token = encode_token(kClaims, binary_secret);
  EXPECT_EQ(decode_token(token, binary_secret), kClaims);
  expect_invalid(token, differs_after_nul);
}

TEST(Base64Url, MatchesRfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64url_encode(plain), encoded);
    std::string decoded;
    ASSERT_TRUE(base64url_decode(encoded, decoded)) << encoded;
    EXPECT_EQ(decoded, plain);
  }
}

TEST(Base64Url, RoundTripsEveryLengthAndByte) {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    const std::string encoded = base64url_encode(data);
    ASSERT_TRUE(is_url_and_shell_safe(encoded));
    ASSERT_EQ(encoded.find('.'), std::string::npos);
    std::string decoded;
    ASSERT_TRUE(base64url_decode(encoded, decoded));
    ASSERT_EQ(decoded, data);
    data.push_back(static_cast<char>(i * 131 + 7));
  }
}

TEST(Base64Url, RejectsNonCanonicalInput) {
  std::string out;
  EXPECT_FALSE(base64url_decode("Zh", out));    // unused bits set
  EXPECT_FALSE(base64url_decode("Zm9=", out));  // padding
  EXPECT_FALSE(base64url_decode("Zg==", out));
  EXPECT_FALSE(base64url_decode("Z", out));  // impossible length
  EXPECT_FALSE(base64url_decode("Zm9vY", out));
  EXPECT_FALSE(base64url_decode("Zm 9v", out));
  EXPECT_FALSE(base64url_decode("Zm9v\n", out));
  EXPECT_FALSE(base64url_decode("+/8", out));  // standard alphabet
  EXPECT_FALSE(base64url_decode(std::string_view("Zm\0v", 4), out));
}

}  // namespace
}  // namespace durable::detail
