// JournalStore::acquire_permit (rate limits), run against every store.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "contract/store_fixtures.hpp"
#include "durable/errors.hpp"
#include "durable/memory_store.hpp"
#include "durable/sqlite_store.hpp"

namespace durable::testing {
namespace {

struct LimitStoreFactory {
  std::string name;
  std::function<std::shared_ptr<JournalStore>(const TempDir&)> make;
};

void PrintTo(const LimitStoreFactory& factory, std::ostream* os) {
  *os << factory.name;
}

class RateLimitContract : public ::testing::TestWithParam<LimitStoreFactory> {
 protected:
  void SetUp() override { store_ = GetParam().make(dir_); }

  TempDir dir_;
  std::shared_ptr<JournalStore> store_;
};

TimePoint ms(std::int64_t t) {
  return TimePoint{Duration{t}};
}

RateLimit fixed(std::int64_t permits, std::int64_t window_ms, std::string name = "api") {
  return RateLimit{.name = std::move(name),
                   .kind = RateLimitKind::kFixedWindow,
                   .permits = permits,
                   .period = Duration{window_ms}};
}

RateLimit bucket(std::int64_t burst, std::int64_t refill_ms, std::string name = "api") {
  return RateLimit{.name = std::move(name),
                   .kind = RateLimitKind::kTokenBucket,
                   .permits = burst,
                   .period = Duration{refill_ms}};
}

TEST_P(RateLimitContract, FixedWindowGrantsPermitsThenAnswersTheNextWindowStart) {
  RateLimit limit = fixed(2, 1000);
  EXPECT_TRUE(store_->acquire_permit(limit, ms(10'100)).granted);
  EXPECT_TRUE(store_->acquire_permit(limit, ms(10'500)).granted);
  PermitDecision refused = store_->acquire_permit(limit, ms(10'900));
  EXPECT_FALSE(refused.granted);
  EXPECT_EQ(refused.retry_at, ms(11'000));
  EXPECT_TRUE(store_->acquire_permit(limit, ms(11'000)).granted);
}

TEST_P(RateLimitContract, ARefusalTakesNothing) {
  RateLimit limit = fixed(1, 1000);
  EXPECT_TRUE(store_->acquire_permit(limit, ms(5000)).granted);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(store_->acquire_permit(limit, ms(5500)).granted);
  EXPECT_TRUE(store_->acquire_permit(limit, ms(6000)).granted);
  EXPECT_FALSE(store_->acquire_permit(limit, ms(6001)).granted);
}

TEST_P(RateLimitContract, NamesAreIndependent) {
  EXPECT_TRUE(store_->acquire_permit(fixed(1, 1000, "a"), ms(0)).granted);
  EXPECT_TRUE(store_->acquire_permit(fixed(1, 1000, "b"), ms(0)).granted);
  EXPECT_FALSE(store_->acquire_permit(fixed(1, 1000, "a"), ms(1)).granted);
}

TEST_P(RateLimitContract, AClockBehindTheStoredWindowCountsAgainstIt) {
  RateLimit limit = fixed(1, 1000);
  EXPECT_TRUE(store_->acquire_permit(limit, ms(7200)).granted);
  PermitDecision late = store_->acquire_permit(limit, ms(6500));  // another process, behind
  EXPECT_FALSE(late.granted);
  EXPECT_EQ(late.retry_at, ms(8000));
}

TEST_P(RateLimitContract, TokenBucketStartsFullAndEarnsOnePermitPerPeriod) {
  RateLimit limit = bucket(3, 100);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store_->acquire_permit(limit, ms(1000)).granted) << i;
  PermitDecision refused = store_->acquire_permit(limit, ms(1050));
  EXPECT_FALSE(refused.granted);
  EXPECT_EQ(refused.retry_at, ms(1100));
  EXPECT_TRUE(store_->acquire_permit(limit, ms(1150)).granted);  // earned at 1100
  PermitDecision next = store_->acquire_permit(limit, ms(1160));
  EXPECT_FALSE(next.granted);
  EXPECT_EQ(next.retry_at, ms(1200));  // the partial period since 1100 is kept
  // A long pause refills to the burst, no further.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store_->acquire_permit(limit, ms(9000)).granted) << i;
  EXPECT_FALSE(store_->acquire_permit(limit, ms(9000)).granted);
}

TEST_P(RateLimitContract, BadLimitsAreRefusedNamingTheLimit) {
  for (const RateLimit& bad :
       {fixed(1, 1000, ""), fixed(0, 1000, "zero"), fixed(1, 0, "still"), bucket(1, -5, "neg")}) {
    try {
      store_->acquire_permit(bad, ms(0));
      ADD_FAILURE() << "accepted limit '" << bad.name << "'";
    } catch (const StoreError& e) {
      EXPECT_FALSE(e.retryable());
      EXPECT_NE(std::string(e.what()).find("rate limit '" + bad.name + "'"), std::string::npos)
          << e.what();
    }
  }
  // The refused calls left no state: a valid limit of the same name starts fresh.
  EXPECT_TRUE(store_->acquire_permit(fixed(1, 1000, "zero"), ms(0)).granted);
}

// In each of several windows, many threads race for permits: every window grants exactly the
// limit, never more.
TEST_P(RateLimitContract, ConcurrentCallersNeverGetMoreThanTheLimitPerWindow) {
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 20;
  constexpr int kPermits = 5;
  RateLimit limit = fixed(kPermits, 100);
  for (std::int64_t window = 10; window < 14; ++window) {
    std::atomic<int> granted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kCallsPerThread; ++i) {
          if (store_->acquire_permit(limit, ms(window * 100 + (t * 7 + i) % 100)).granted) {
            ++granted;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(granted.load(), kPermits) << "window " << window;
  }
}

TEST_P(RateLimitContract, ConcurrentCallersShareOneBucket) {
  constexpr int kThreads = 8;
  RateLimit limit = bucket(10, 1'000'000);  // no refill during the test
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (store_->acquire_permit(limit, ms(5000)).granted) ++granted;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(granted.load(), 10);
}

INSTANTIATE_TEST_SUITE_P(
    Stores, RateLimitContract,
    ::testing::Values(
        LimitStoreFactory{"Memory", [](const TempDir&) { return std::make_shared<MemoryStore>(); }},
        LimitStoreFactory{
            "Sqlite", [](const TempDir& dir) { return SqliteStore::open(dir.file("store.db")); }}),
    [](const ::testing::TestParamInfo<LimitStoreFactory>& info) { return info.param.name; });

// Two connections to one file (as two processes would have) share the limit.
TEST(SqliteRateLimit, ConnectionsSharingAFileNeverOverdrawTheBucket) {
  TempDir dir;
  auto a = SqliteStore::open(dir.file("store.db"));
  auto b = SqliteStore::open(dir.file("store.db"));
  RateLimit limit = bucket(12, 1'000'000);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      JournalStore& store = t % 2 ? static_cast<JournalStore&>(*a) : *b;
      for (int i = 0; i < 6; ++i) {
        if (store.acquire_permit(limit, ms(100)).granted) ++granted;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(granted.load(), 12);
}

}  // namespace
}  // namespace durable::testing
