// A stand-in for the Claude Code CLI: replays a recorded NDJSON transcript.
//
//   FAKE_CLAUDE_SCRIPT         the transcript to print, line by line (blank and non-JSON too)
//   FAKE_CLAUDE_RESUME_SCRIPT  if set, the transcript for runs given --resume=ID instead
//   FAKE_CLAUDE_RECORD         if set, a file where it writes {"argv","stdin","entrypoint","cwd",
//                              "pid"}
//   FAKE_CLAUDE_LOG            if set, a file it appends that same JSON to, one line per run
//
// It first reads stdin to its end (the SDK protocol: the user message, then EOF). Directive lines
// in the transcript: `#exit N` exits with N; `#stderr TEXT` writes TEXT to stderr; `#hang` waits
// for a signal; `#hang-ignoring-term` ignores SIGTERM, then waits.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  bool resumed = false;
  for (int i = 1; i < argc; ++i)
    resumed = resumed || std::string(argv[i]).rfind("--resume", 0) == 0;
  const char* record = std::getenv("FAKE_CLAUDE_RECORD");
  const char* log = std::getenv("FAKE_CLAUDE_LOG");
  if (record || log) {
    nlohmann::json r;
    r["argv"] = nlohmann::json::array();
    for (int i = 1; i < argc; ++i) r["argv"].push_back(argv[i]);
    r["stdin"] = input;
    const char* entry = std::getenv("CLAUDE_CODE_ENTRYPOINT");
    r["entrypoint"] = entry ? entry : "";
    char cwd[4096];
    r["cwd"] = getcwd(cwd, sizeof cwd) ? cwd : "";
    r["pid"] = getpid();
    if (record) std::ofstream(record) << r.dump();
    if (log) std::ofstream(log, std::ios::app) << r.dump() << "\n";
  }
  const char* script = std::getenv("FAKE_CLAUDE_SCRIPT");
  if (const char* resume_script = std::getenv("FAKE_CLAUDE_RESUME_SCRIPT");
      resumed && resume_script) {
    script = resume_script;
  }
  if (!script) {
    std::cerr << "fake_claude: FAKE_CLAUDE_SCRIPT is not set\n";
    return 2;
  }
  std::ifstream in(script);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("#exit ", 0) == 0) {
      std::cout.flush();
      return std::atoi(line.c_str() + 6);
    }
    if (line.rfind("#stderr ", 0) == 0) {
      std::cerr << line.substr(8) << "\n";
      continue;
    }
    if (line == "#hang" || line == "#hang-ignoring-term") {
      if (line == "#hang-ignoring-term") signal(SIGTERM, SIG_IGN);
      std::cout.flush();
      while (true) pause();
    }
    std::cout << line << "\n";
    std::cout.flush();
  }
  return 0;
}
