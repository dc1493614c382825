// Built against the installed, relocated package by tests/install/install_test.cmake, which
// checks the line it prints: a one-step workflow on a MemoryStore and on a SqliteStore.
#include <durable/durable.hpp>
#include <durable/sqlite_store.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

namespace {

const durable::Activity<std::string(std::string)> kGreet{
    "greet", [](std::string who) { return "hello " + who; }};

const durable::Workflow<std::string(std::string)> kHello{
    "hello", [](durable::WorkflowContext& ctx, std::string who) -> durable::Task<std::string> {
      co_return co_await ctx.run(kGreet, who);
    }};

std::string run_on(std::shared_ptr<durable::JournalStore> store) {
  durable::Engine engine(std::move(store));
  engine.add(kHello);
  engine.start();
  return engine.execute(kHello, std::string("consumer"));
}

}  // namespace

int main() {
  auto db = std::filesystem::temp_directory_path() /
            ("durable-consumer-" + std::to_string(::getpid()) + ".db");
  std::string in_memory = run_on(std::make_shared<durable::MemoryStore>());
  std::string in_sqlite = run_on(durable::SqliteStore::open(db.string()));
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix);
  std::cout << "durable consumer: memory=" << in_memory << ", sqlite=" << in_sqlite << "\n";
  return in_memory == in_sqlite ? 0 : 1;
}
