#include "engine/ids.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace durable::detail {
namespace {

TEST(ExecutionId, IsDeterministic) {
  EXPECT_EQ(execution_id_for("publish", "durable C++"), execution_id_for("publish", "durable C++"));
}

TEST(ExecutionId, HasTheDocumentedForm) {
  const std::string id = execution_id_for("publish", "durable C++");
  std::string input = "publish";
  input.push_back('\0');
  input += "durable C++";
  EXPECT_EQ(id, "publish-" + sha256_hex(input).substr(0, 20));
  EXPECT_TRUE(std::regex_match(id, std::regex("publish-[0-9a-f]{20}"))) << id;
}

TEST(ExecutionId, DiffersByKeyAndByWorkflow) {
  EXPECT_NE(execution_id_for("publish", "a"), execution_id_for("publish", "b"));
  EXPECT_NE(execution_id_for("publish", "a"), execution_id_for("review", "a"));
  EXPECT_NE(execution_id_for("publish", ""), execution_id_for("publish", std::string("\0", 1)));
}

TEST(ExecutionId, SplitOfWorkflowAndKeyIsUnambiguous) {
  EXPECT_NE(execution_id_for("ab", "c"), execution_id_for("a", "bc"));
  EXPECT_NE(execution_id_for("a-b", "c"), execution_id_for("a", "b-c"));
  EXPECT_NE(execution_id_for("a", std::string("\0b", 2)),
            execution_id_for(std::string("a\0", 2), "b"));
}

TEST(RandomExecutionId, HasTheDocumentedFormAndSortsByStartTime) {
  const std::string early = random_execution_id("publish", 1'700'000'000'000);
  const std::string later = random_execution_id("publish", 1'700'000'000'001);
  EXPECT_TRUE(std::regex_match(early, std::regex("publish-018bcfe56800[0-9a-f]{16}"))) << early;
  EXPECT_LT(early, later);
  EXPECT_NE(random_execution_id("publish", 5), random_execution_id("publish", 5));
}

TEST(ExecutionId, ManyKeysGiveDistinctIds) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(execution_id_for("w", std::to_string(i)));
  EXPECT_EQ(ids.size(), 10000u);
}

TEST(Sha256Hex, MatchesKnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Uuid, HasVersion4AndRfc4122Variant) {
  const std::regex form("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (auto [hi, lo] : {std::pair<std::uint64_t, std::uint64_t>{0, 0},
                        {~std::uint64_t{0}, ~std::uint64_t{0}},
                        {0x0123456789abcdefULL, 0xfedcba9876543210ULL}}) {
    const std::string uuid = format_uuid_v4(hi, lo);
    EXPECT_TRUE(std::regex_match(uuid, form)) << uuid;
  }
  EXPECT_EQ(format_uuid_v4(0, 0), "00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(format_uuid_v4(~std::uint64_t{0}, ~std::uint64_t{0}),
            "ffffffff-ffff-4fff-bfff-ffffffffffff");
  EXPECT_EQ(format_uuid_v4(0x0123456789abcdefULL, 0xfedcba9876543210ULL),
            "01234567-89ab-4def-bedc-ba9876543210");
}

TEST(Uuid, IsDeterministicAndKeepsTheRandomBits) {
  EXPECT_EQ(format_uuid_v4(1, 2), format_uuid_v4(1, 2));
  EXPECT_NE(format_uuid_v4(1, 2), format_uuid_v4(1, 3));
  EXPECT_NE(format_uuid_v4(1, 2), format_uuid_v4(2, 2));
}

TEST(SecureRandom, ProducesDistinctValues) {
  std::set<std::uint64_t> values;
  for (int i = 0; i < 1000; ++i) values.insert(secure_random_u64());
  EXPECT_EQ(values.size(), 1000u);
}

TEST(SecureRandom, UuidsFromItAreWellFormed) {
  const std::regex form("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(std::regex_match(format_uuid_v4(secure_random_u64(), secure_random_u64()), form));
  }
}

}  // namespace
}  // namespace durable::detail
