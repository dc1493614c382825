// bench_throughput: N workflows of K trivial activities each, C executions in flight, on the
// memory or the SQLite store; with SQLite, the raw SQLite ceiling measured in the same run on the
// same file system, and the engine's figures as ratios of it. See bench/README.md.
//
//   bench_throughput --store memory|sqlite [--sync full|normal] [--db FILE] --workflows N
//                    --steps K [--concurrency C] [--json]
//   extra: [--clients T] [--activity-threads A] [--scheduler-threads S] [--single-step-runs R]
//          [--readers D]
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <fmt/format.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <iostream>
#include <thread>

#include <unistd.h>

#include "bench_util.hpp"
#include "durable/durable.hpp"
#include "durable/sqlite_store.hpp"

namespace durable::bench {
namespace {

namespace fs = std::filesystem;

struct Options {
  std::string store = "memory";
  SqliteOptions::Sync sync = SqliteOptions::Sync::kFull;
  std::string db;
  long long workflows = 1000;
  int steps = 10;
  int concurrency = 64;
  int clients = 0;  // 0: min(concurrency, 16)
  int activity_threads = 4;
  int scheduler_threads = 1;  // EngineOptions::scheduler_threads
  int single_step_runs = 200;
  int readers = 0;  // threads calling Engine::describe in a loop during the run (a dashboard)
  double ceiling_seconds = 1.5;  // per ceiling measurement
  bool json = false;
};

Options parse(int argc, char** argv) {
  Args args(argc, argv, {"--json"},
            {"--store", "--sync", "--db", "--workflows", "--steps", "--concurrency", "--clients",
             "--activity-threads", "--scheduler-threads", "--single-step-runs", "--ceiling-seconds",
             "--readers"});
  Options o;
  o.store = args.get("--store", o.store);
  if (o.store != "memory" && o.store != "sqlite") {
    throw std::invalid_argument("--store is memory or sqlite");
  }
  std::string sync = args.get("--sync", "full");
  if (sync != "full" && sync != "normal") throw std::invalid_argument("--sync is full or normal");
  o.sync = sync == "full" ? SqliteOptions::Sync::kFull : SqliteOptions::Sync::kNormal;
  o.db = args.get("--db", "");
  o.workflows = args.get_int("--workflows", o.workflows);
  o.steps = static_cast<int>(args.get_int("--steps", o.steps));
  o.concurrency = static_cast<int>(std::max<long long>(1, args.get_int("--concurrency", 64)));
  o.clients = static_cast<int>(args.get_int("--clients", 0));
  if (o.clients == 0) o.clients = std::min(o.concurrency, 16);
  o.clients = std::min(o.clients, o.concurrency);
  o.scheduler_threads =
      static_cast<int>(std::max<long long>(1, args.get_int("--scheduler-threads", 1)));
  o.activity_threads = static_cast<int>(args.get_int("--activity-threads", o.activity_threads));
  o.single_step_runs = static_cast<int>(args.get_int("--single-step-runs", o.single_step_runs));
  o.ceiling_seconds = std::stod(args.get("--ceiling-seconds", "1.5"));
  o.readers = static_cast<int>(std::max<long long>(0, args.get_int("--readers", 0)));
  o.json = args.has("--json");
  if (o.workflows < 1 || o.steps < 1) {
    throw std::invalid_argument("--workflows and --steps must be at least 1");
  }
  return o;
}

// Step latency samples, one slot per (workflow, step), written by workflow code on the scheduler
// thread and read after every client has joined. Step latency is measured in workflow code: from
// just before ctx.run(step) to just after its co_await returns, i.e. journaling the attempt (one
// commit), dispatching it to a worker, running it, posting the result back, journaling the result
// (a second commit) and resuming the coroutine.
std::vector<float> g_step_latency_us;
int g_steps = 0;

const Activity<int(int)> kStep{"step", [](int i) { return i + 1; }};

const Workflow<int(int)> kStepsWorkflow{
    "bench_steps", [](WorkflowContext& ctx, int n) -> Task<int> {
      int sum = 0;
      // One clock read per step (a step's end is the next one's start): the reads run on the
      // scheduler thread, the engine's bound, and cost as much as a tenth of a step on some VMs.
      auto t0 = Stopwatch::now();
      for (int i = 0; i < g_steps; ++i) {
        sum += co_await ctx.run(kStep, i);
        auto t1 = Stopwatch::now();
        auto slot = static_cast<std::size_t>(n) * static_cast<std::size_t>(g_steps) +
                    static_cast<std::size_t>(i);
        if (slot < g_step_latency_us.size()) {
          g_step_latency_us[slot] = static_cast<float>(micros(t1 - t0));
        }
        t0 = t1;
      }
      co_return sum;
    }};

const Workflow<int(int)> kOneStepWorkflow{
    "bench_one_step",
    [](WorkflowContext& ctx, int n) -> Task<int> { co_return co_await ctx.run(kStep, n); }};

// --- The raw SQLite ceiling -------------------------------------------------------------------

// The same row shape as the store's events table (src/store/sqlite_schema.cpp) and the same
// pragmas as SqliteStore (WAL, synchronous), in a file of its own next to the engine's database.
class Ceiling {
 public:
  Ceiling(const std::string& path, SqliteOptions::Sync sync)
      : path_(path), db_(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 5000) {
    db_.execAndGet("PRAGMA journal_mode = WAL");
    db_.exec(sync == SqliteOptions::Sync::kFull ? "PRAGMA synchronous = FULL"
                                                : "PRAGMA synchronous = NORMAL");
    db_.exec(R"sql(
      CREATE TABLE IF NOT EXISTS events (
        seq     INTEGER PRIMARY KEY,
        segment INTEGER NOT NULL,
        idx     INTEGER NOT NULL,
        type    INTEGER NOT NULL,
        op      INTEGER NOT NULL,
        name    TEXT NOT NULL,
        data    TEXT NOT NULL,
        time    INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX IF NOT EXISTS events_by_segment ON events (segment, idx);
      CREATE TABLE IF NOT EXISTS journal_segments (
        segment   INTEGER PRIMARY KEY,
        journal   INTEGER NOT NULL,
        first_idx INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX IF NOT EXISTS journal_segments_by_journal
        ON journal_segments (journal, first_idx))sql");
    for (int rows : {1, kNarrowRows, kWideRows}) {
      std::string sql = "INSERT INTO events (segment, idx, type, op, name, data, time) VALUES ";
      for (int i = 0; i < rows; ++i)
        sql += i == 0 ? "(?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?)";
      inserts_.push_back(std::make_unique<SQLite::Statement>(db_, sql));
    }
    insert_segment_ = std::make_unique<SQLite::Statement>(
        db_, "INSERT INTO journal_segments (segment, journal, first_idx) VALUES (?, ?, ?)");
    begin_ = std::make_unique<SQLite::Statement>(db_, "BEGIN IMMEDIATE");
    commit_ = std::make_unique<SQLite::Statement>(db_, "COMMIT");
  }

  // Rows/s inserting `batch` rows per transaction, for about `budget` seconds.
  double rows_per_sec(int batch, double budget) {
    batch = std::max(batch, 1);
    long long rows = 0;
    auto t0 = Stopwatch::now();
    do {
      begin();
      for (int i = 0; i < batch; ++i) add_row();
      commit();
      rows += batch;
    } while (seconds_since(t0) < budget || rows < 5LL * batch);
    return static_cast<double>(rows) / seconds_since(t0);
  }

  // Latencies (µs) of single-row transactions, each one fsync with synchronous=FULL.
  std::vector<double> commit_latencies_us(int count) {
    std::vector<double> out;
    for (int i = 0; i < count; ++i) {
      auto t0 = Stopwatch::now();
      begin();
      add_row();
      commit();
      out.push_back(micros(Stopwatch::now() - t0));
    }
    return out;
  }

  // Rows of later measurements go round-robin to `spread` live executions (see add_row).
  void set_spread(int spread) {
    spread_ = std::max(spread, 1);
    next_lane_ = 0;
  }

 private:
  // Prepared once, as the store prepares its own (store::WriteTransaction): SQLite's best case.
  void begin() {
    begin_->exec();
    begin_->reset();
  }
  void commit() {
    flush();
    commit_->exec();
    commit_->reset();
  }

  // The rows gathered for the transaction, in statements of 32, 8 and 1 rows, as the store
  // inserts a commit's events (SqliteStore::Impl::kWideRows, kNarrowRows).
  void flush() {
    std::size_t i = 0;
    auto insert_group = [&](SQLite::Statement& insert, int count) {
      for (int r = 0; r < count; ++r, ++i) {
        const Row& row = pending_[i];
        insert.bind(7 * r + 1, row.segment);
        insert.bind(7 * r + 2, row.idx);
        insert.bind(7 * r + 3, row.type);
        insert.bind(7 * r + 4, row.op);
        insert.bind(7 * r + 5, "step");
        insert.bindNoCopy(7 * r + 6, row.data);
        insert.bind(7 * r + 7, row.time);
      }
      insert.exec();
      insert.reset();
    };
    while (pending_.size() - i >= kWideRows) insert_group(*inserts_[2], kWideRows);
    while (pending_.size() - i >= kNarrowRows) insert_group(*inserts_[1], kNarrowRows);
    while (i < pending_.size()) insert_group(*inserts_[0], 1);
    pending_.clear();
  }

  // Adds a row to the transaction's (written by commit()). Journal-sized rows: journal and segment
  // keys as the store gives them (one past the largest; a new segment every 16 events, schema
  // version 7), activity_started and activity_completed events with the data the engine writes for
  // kStep, alternately. With spread 1, each execution's 20 rows are inserted together (the best
  // case for the index: one leaf page per transaction); with spread S, consecutive rows go
  // round-robin to S live executions, as the engine's group commit interleaves executions.
  void add_row() {
    if (lanes_.size() != static_cast<std::size_t>(spread_))
      lanes_.assign(static_cast<std::size_t>(spread_), Lane{});
    Lane& lane = lanes_[static_cast<std::size_t>(next_lane_)];
    next_lane_ = (next_lane_ + 1) % spread_;
    if (lane.idx % 21 == 0) {
      lane.journal = ++last_journal_;
      lane.idx = 1;
      lane.segment_first = -kSegmentEvents;
    }
    if (lane.idx - lane.segment_first >= kSegmentEvents) {
      lane.segment = ++last_segment_;
      lane.segment_first = lane.idx;
      insert_segment_->bind(1, lane.segment);
      insert_segment_->bind(2, lane.journal);
      insert_segment_->bind(3, lane.idx);
      insert_segment_->exec();
      insert_segment_->reset();
    }
    bool started = lane.idx % 2 == 1;
    int op = static_cast<int>((lane.idx - 1) / 2);
    pending_.push_back(Row{.segment = lane.segment,
                           .idx = lane.idx,
                           .type = started ? 2 : 4,
                           .op = op,
                           .data = started ? fmt::format(R"({{"attempt":1,"input":[{}]}})", op)
                                           : fmt::format(R"({{"value":{}}})", op + 1),
                           .time = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()});
    ++lane.idx;
  }

  static constexpr int kWideRows = 32;
  static constexpr int kNarrowRows = 8;
  struct Row {
    std::int64_t segment = 0;
    std::int64_t idx = 0;
    int type = 0;
    int op = 0;
    std::string data;
    std::int64_t time = 0;
  };
  std::vector<Row> pending_;

  static constexpr std::int64_t kSegmentEvents = 16;  // SqliteStore::Impl::kSegmentEvents
  struct Lane {
    std::int64_t journal = 0;
    std::int64_t idx = 0;
    std::int64_t segment = 0;
    std::int64_t segment_first = 0;
  };
  std::vector<Lane> lanes_;
  int spread_ = 1;
  int next_lane_ = 0;

  std::string path_;
  SQLite::Database db_;
  std::vector<std::unique_ptr<SQLite::Statement>> inserts_;  // 1, kNarrowRows, kWideRows rows
  std::unique_ptr<SQLite::Statement> insert_segment_, begin_, commit_;
  std::int64_t last_journal_ = 0;
  std::int64_t last_segment_ = 0;
};

void remove_db(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix, ec);
}

// --- The run ------------------------------------------------------------------------------------

struct RunResult {
  double seconds = 0;
  EngineStats stats{};
  CpuUse cpu{};                       // the engine's threads (run_workflows)
  std::vector<double> describe_us{};  // the latency of each --readers call, in µs
};

// C executions in flight: `clients` threads, each keeping its share of the window outstanding.
// Engine::start blocks until the execution is durably created (one scheduler round), so one
// thread alone could not keep many executions live; several threads' creates share a commit.
RunResult run_workflows(Engine& engine, const Options& o) {
  std::atomic<long long> next{0};
  std::atomic<long long> failures{0};
  std::atomic<long long> wrong{0};
  // Each workflow returns the sum of its steps' results, 1 + 2 + ... + K.
  const long long expected = static_cast<long long>(g_steps) * (g_steps + 1) / 2;
  int window = std::max(1, (o.concurrency + o.clients - 1) / o.clients);
  // The execution each --readers thread reads, run to its end before the measured run, so that
  // its steps are not counted in the run's figures.
  std::vector<std::string> read_ids;
  for (int i = 0; i < o.readers; ++i) {
    auto handle = engine.start(kStepsWorkflow, 0);
    handle.get();
    read_ids.push_back(handle.id());
  }
  EngineStats before = engine.stats();
  auto cpu_before = thread_cpu_seconds();
  auto t0 = Stopwatch::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < o.clients; ++c) {
    clients.emplace_back([&] {
      std::deque<ExecutionHandle<int>> outstanding;
      for (;;) {
        if (static_cast<int>(outstanding.size()) < window) {
          long long n = next.fetch_add(1);
          if (n < o.workflows) {
            outstanding.push_back(engine.start(kStepsWorkflow, static_cast<int>(n)));
            continue;
          }
        }
        if (outstanding.empty()) break;
        try {
          if (outstanding.front().get() != expected) wrong.fetch_add(1);
        } catch (const std::exception&) {
          failures.fetch_add(1);
        }
        outstanding.pop_front();
      }
    });
  }
  // --readers: threads asking for one execution's record as fast as they can, as a dashboard or
  // a poller would, while the clients run (each call is timed).
  std::atomic<bool> run_over{false};
  std::vector<std::vector<double>> describe_us(read_ids.size());
  std::vector<std::thread> readers;
  for (std::size_t i = 0; i < read_ids.size(); ++i) {
    readers.emplace_back([&engine, &run_over, &samples = describe_us[i], &id = read_ids[i]] {
      while (!run_over.load(std::memory_order_relaxed)) {
        auto t = Stopwatch::now();
        (void)engine.describe(id);
        samples.push_back(seconds_since(t) * 1e6);
      }
    });
  }
  for (auto& t : clients) t.join();
  RunResult r;
  r.seconds = seconds_since(t0);
  run_over = true;
  for (auto& t : readers) t.join();
  for (auto& samples : describe_us) {
    r.describe_us.insert(r.describe_us.end(), samples.begin(), samples.end());
  }
  // After the join, so the client threads are gone from the snapshot: the figure is the
  // engine's threads (and the idle main thread) alone.
  r.cpu = cpu_use(cpu_before, thread_cpu_seconds(), r.seconds);
  engine.wait_idle();
  EngineStats after = engine.stats();
  r.stats.commits = after.commits - before.commits;
  r.stats.events_committed = after.events_committed - before.events_committed;
  r.stats.activity_attempts = after.activity_attempts - before.activity_attempts;
  if (failures.load() > 0 || wrong.load() > 0) {
    throw std::runtime_error(
        fmt::format("{} workflows failed, {} returned a wrong sum", failures.load(), wrong.load()));
  }
  return r;
}

std::vector<double> run_single_steps(Engine& engine, int runs) {
  std::vector<double> out;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Stopwatch::now();
    engine.execute(kOneStepWorkflow, i);
    out.push_back(micros(Stopwatch::now() - t0));
  }
  return out;
}

int run(const Options& o) {
  g_steps = o.steps;
  std::size_t slots = static_cast<std::size_t>(o.workflows) * static_cast<std::size_t>(o.steps);
  g_step_latency_us.assign(slots, -1.0f);

  bool sqlite = o.store == "sqlite";
  fs::path dir;
  fs::path temp_dir;
  std::string db_path;
  if (sqlite) {
    if (o.db.empty()) {
      // A fresh directory in the temp file system; the ceiling uses the same one.
      temp_dir = fs::temp_directory_path() / fmt::format("durable-bench-{}", ::getpid());
      fs::create_directories(temp_dir);
      db_path = (temp_dir / "bench.db").string();
    } else {
      db_path = o.db;
    }
    remove_db(db_path);  // --db FILE is recreated: each run starts from an empty journal
    dir = fs::absolute(db_path).parent_path();
  }

  std::shared_ptr<JournalStore> store;
  if (sqlite) {
    store = SqliteStore::open(
        db_path, SqliteOptions{.sync = o.sync, .busy_timeout = std::chrono::milliseconds{5000}});
  } else {
    store = MemoryStore::create();
  }

  EngineOptions eo;
  eo.activity_threads = static_cast<std::size_t>(o.activity_threads);
  eo.scheduler_threads = static_cast<std::size_t>(o.scheduler_threads);
  Engine engine(store, eo);
  engine.add(kStepsWorkflow);
  engine.add(kOneStepWorkflow);
  engine.start();
  engine.wait_idle();

  RunResult r = run_workflows(engine, o);
  std::vector<float> latencies;
  latencies.reserve(slots);
  for (float v : g_step_latency_us) {
    if (v >= 0) latencies.push_back(v);
  }
  // Whether a step costs more late in a history than early: p50 of the first and last tenth of
  // each workflow's steps.
  std::vector<float> early, late;
  if (o.steps >= 10) {
    for (long long n = 0; n < o.workflows; ++n) {
      for (int i = 0; i < o.steps; ++i) {
        float v = g_step_latency_us[static_cast<std::size_t>(n * o.steps + i)];
        if (i < o.steps / 10) early.push_back(v);
        if (i >= o.steps - o.steps / 10) late.push_back(v);
      }
    }
  }

  std::vector<double> single = run_single_steps(engine, o.single_step_runs);
  engine.stop();

  double steps_total = static_cast<double>(o.workflows) * o.steps;
  double steps_per_sec = steps_total / r.seconds;
  double workflows_per_sec = static_cast<double>(o.workflows) / r.seconds;
  double rows_per_sec = static_cast<double>(r.stats.events_committed) / r.seconds;
  double events_per_commit =
      r.stats.commits ? static_cast<double>(r.stats.events_committed) / r.stats.commits : 0;

  Json out;
  out["store"] = o.store;
  out["load_average_1m"] = load_average();
  if (sqlite) out["sync"] = o.sync == SqliteOptions::Sync::kFull ? "full" : "normal";
  out["workflows"] = o.workflows;
  out["steps"] = o.steps;
  out["concurrency"] = o.concurrency;
  out["clients"] = o.clients;
  out["activity_threads"] = o.activity_threads;
  out["scheduler_threads"] = o.scheduler_threads;
  out["seconds"] = r.seconds;
  out["workflows_per_sec"] = workflows_per_sec;
  out["steps_per_sec"] = steps_per_sec;
  out["p50_step_latency_us"] = percentile(latencies, 0.50);
  out["p99_step_latency_us"] = percentile(latencies, 0.99);
  if (!early.empty()) {
    out["p50_step_latency_first_tenth_us"] = percentile(early, 0.50);
    out["p50_step_latency_last_tenth_us"] = percentile(late, 0.50);
  }
  out["commits"] = r.stats.commits;
  out["events_committed"] = r.stats.events_committed;
  out["events_per_commit"] = events_per_commit;
  out["commits_per_step"] = static_cast<double>(r.stats.commits) / steps_total;
  out["journal_rows_per_sec"] = rows_per_sec;
  out["cpu_cores_used"] = r.cpu.cores;
  out["busiest_thread_cpu_share"] = r.cpu.busiest_thread;
  out["single_step_runs"] = o.single_step_runs;
  out["single_step_p50_us"] = percentile(single, 0.50);
  out["single_step_p99_us"] = percentile(single, 0.99);
  if (o.readers > 0) {
    out["readers"] = o.readers;
    out["describes_per_sec"] = static_cast<double>(r.describe_us.size()) / r.seconds;
    out["describe_p50_us"] = percentile(r.describe_us, 0.50);
    out["describe_p99_us"] = percentile(r.describe_us, 0.99);
  }

  if (sqlite) {
    std::string ceiling_path =
        (dir / (fs::path(db_path).filename().string() + ".ceiling")).string();
    remove_db(ceiling_path);
    {
      Ceiling ceiling(ceiling_path, o.sync);
      double rows100 = ceiling.rows_per_sec(100, o.ceiling_seconds);
      int engine_batch = std::max(1, static_cast<int>(events_per_commit + 0.5));
      double rows_engine_batch = ceiling.rows_per_sec(engine_batch, o.ceiling_seconds);
      std::vector<double> commit = ceiling.commit_latencies_us(o.ceiling_seconds >= 1 ? 200 : 10);
      ceiling.set_spread(o.concurrency);
      double rows100_spread = ceiling.rows_per_sec(100, o.ceiling_seconds);
      double commit_p50 = percentile(commit, 0.50);
      out["ceiling_rows_per_sec"] = rows100;
      out["ceiling_batch_rows"] = 100;
      out["ceiling_rows_per_sec_at_engine_batch"] = rows_engine_batch;
      out["ceiling_rows_per_sec_interleaved"] = rows100_spread;
      out["ceiling_engine_batch_rows"] = engine_batch;
      out["ceiling_commit_latency_us"] = commit_p50;
      out["ceiling_commit_latency_p99_us"] = percentile(commit, 0.99);
      // The goal is judged on journal rows: how much of SQLite's write capacity the engine turns
      // into journal rows. Each step writes two rows (activity_started, activity_completed).
      out["ratio_to_ceiling"] = rows_per_sec / rows100;
      out["steps_ratio_to_ceiling"] = steps_per_sec / rows100;
      out["ratio_to_ceiling_at_engine_batch"] = rows_per_sec / rows_engine_batch;
      out["ratio_to_ceiling_interleaved"] = rows_per_sec / rows100_spread;
      out["single_step_p50_in_commits"] = percentile(single, 0.50) / commit_p50;
    }
    remove_db(ceiling_path);
    out["filesystem_dir"] = o.db.empty() ? "temp" : "beside --db";
  }
  store.reset();
  if (!temp_dir.empty()) fs::remove_all(temp_dir);

  if (o.json) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  auto num = [&](const char* key) { return out.value(key, 0.0); };
  fmt::print(
      "store {}{}: {} workflows x {} steps, concurrency {} ({} client threads), {} "
      "activity threads, {} scheduler thread(s)\n",
      o.store, sqlite ? fmt::format(" (synchronous={})", out["sync"].get<std::string>()) : "",
      o.workflows, o.steps, o.concurrency, o.clients, o.activity_threads, o.scheduler_threads);
  fmt::print("  {:.3f} s   {:.0f} workflows/s   {:.0f} steps/s\n", r.seconds, workflows_per_sec,
             steps_per_sec);
  fmt::print("  step latency p50 {:.1f} us   p99 {:.1f} us", num("p50_step_latency_us"),
             num("p99_step_latency_us"));
  if (!early.empty()) {
    fmt::print("   (p50 first tenth {:.1f} us, last tenth {:.1f} us)",
               num("p50_step_latency_first_tenth_us"), num("p50_step_latency_last_tenth_us"));
  }
  fmt::print(
      "\n  {} commits, {} events: {:.1f} events/commit, {:.3f} commits/step, {:.0f} journal "
      "rows/s\n",
      r.stats.commits, r.stats.events_committed, events_per_commit, num("commits_per_step"),
      rows_per_sec);
  fmt::print(
      "  CPU: {:.2f} cores used by the engine's threads (clients excluded); busiest thread "
      "{:.0f}% of a core\n",
      r.cpu.cores, 100 * r.cpu.busiest_thread);
  fmt::print("  one single-step workflow end to end: p50 {:.1f} us   p99 {:.1f} us\n",
             num("single_step_p50_us"), num("single_step_p99_us"));
  if (o.readers > 0) {
    fmt::print("  {} reader thread(s): {:.0f} describe calls/s, p50 {:.1f} us   p99 {:.1f} us\n",
               o.readers, num("describes_per_sec"), num("describe_p50_us"), num("describe_p99_us"));
  }
  if (sqlite) {
    fmt::print(
        "  SQLite ceiling (same file system): {:.0f} rows/s in 100-row transactions, {:.0f} "
        "rows/s in {}-row transactions; single-row commit p50 {:.1f} us (p99 {:.1f})\n",
        num("ceiling_rows_per_sec"), num("ceiling_rows_per_sec_at_engine_batch"),
        out["ceiling_engine_batch_rows"].get<int>(), num("ceiling_commit_latency_us"),
        num("ceiling_commit_latency_p99_us"));
    fmt::print(
        "  ceiling with rows interleaved over {} executions (as group commit writes them): "
        "{:.0f} rows/s in 100-row transactions\n",
        o.concurrency, num("ceiling_rows_per_sec_interleaved"));
    fmt::print(
        "  ratio_to_ceiling (journal rows/s / ceiling rows/s) {:.3f}; steps/s / ceiling "
        "{:.3f}; at the engine's batch size {:.3f}; vs the interleaved ceiling {:.3f}\n",
        num("ratio_to_ceiling"), num("steps_ratio_to_ceiling"),
        num("ratio_to_ceiling_at_engine_batch"), num("ratio_to_ceiling_interleaved"));
    fmt::print("  single-step workflow p50 = {:.1f} single-row commits\n",
               num("single_step_p50_in_commits"));
  }
  return 0;
}

}  // namespace
}  // namespace durable::bench

int main(int argc, char** argv) {
  try {
    return durable::bench::run(durable::bench::parse(argc, argv));
  } catch (const std::invalid_argument& e) {
    std::cerr
        << "bench_throughput: " << e.what() << "\n"
        << "usage: bench_throughput --store memory|sqlite [--sync full|normal] [--db FILE] "
           "--workflows N --steps K [--concurrency C] [--json]\n"
           "       [--clients T] [--activity-threads A] [--scheduler-threads S] [--readers D] "
           "[--single-step-runs R] "
           "[--ceiling-seconds S]\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "bench_throughput: " << e.what() << "\n";
    return 1;
  }
}
