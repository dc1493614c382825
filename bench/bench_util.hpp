// Small helpers shared by the benchmark executables: command-line parsing, percentiles, clocks
// and /proc/self/status. Benchmarks report figures; they never assert goals.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace durable::bench {

using Stopwatch = std::chrono::steady_clock;

inline double seconds_since(Stopwatch::time_point t0) {
  return std::chrono::duration<double>(Stopwatch::now() - t0).count();
}

inline double micros(Stopwatch::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// "--name value" and "--flag" arguments. Unknown names are an error so that a typo in a script
// does not silently run the default.
class Args {
 public:
  Args(int argc, char** argv, std::vector<std::string> flags, std::vector<std::string> valued) {
    for (int i = 1; i < argc; ++i) {
      std::string name = argv[i];
      if (std::find(flags.begin(), flags.end(), name) != flags.end()) {
        // Not `= "1"`: GCC 12 reports a false -Wrestrict on assigning a literal here at -O3.
        values_.insert_or_assign(name, std::string(1, '1'));
      } else if (std::find(valued.begin(), valued.end(), name) != valued.end()) {
        if (i + 1 >= argc) throw std::invalid_argument(name + " needs a value");
        values_[name] = argv[++i];
      } else {
        throw std::invalid_argument("unknown argument " + name);
      }
    }
  }

  bool has(const std::string& name) const { return values_.contains(name); }
  std::string get(const std::string& name, std::string fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  long long get_int(const std::string& name, long long fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    long long value = 0;
    const std::string& s = it->second;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size() || value < 0) {
      throw std::invalid_argument(name + " needs a non-negative integer, not '" + s + "'");
    }
    return value;
  }

 private:
  std::map<std::string, std::string> values_;
};

// The q-quantile (0..1) by nearest rank; 0 for no samples.
template <class T>
double percentile(std::vector<T> samples, double q) {
  if (samples.empty()) return 0;
  auto rank = static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1) + 0.5);
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(rank),
                   samples.end());
  return static_cast<double>(samples[rank]);
}

// A field of /proc/self/status ("VmRSS", "VmHWM") in bytes; 0 where /proc is missing.
inline std::uint64_t proc_status_bytes(std::string_view field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10) * 1024;
    }
  }
  return 0;
}

// The 1-minute load average: other work on the machine moves every figure, so runs record it.
inline double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = 0;
  in >> load;
  return load;
}

// CPU seconds (user + system) each thread of this process has used so far, by thread id, from
// /proc/self/task/*/stat. Threads that ended are gone from it.
inline std::map<long, double> thread_cpu_seconds() {
  std::map<long, double> out;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // "tid (name) state ...": the name may hold spaces and parentheses; fields count from the
    // last ')'. utime and stime are fields 14 and 15, the 12th and 13th after it.
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    double cpu = 0;
    for (int i = 1; i <= 13 && fields >> field; ++i) {
      if (i >= 12) cpu += std::strtod(field.c_str(), nullptr) / ticks;
    }
    out[std::strtol(task.path().filename().c_str(), nullptr, 10)] = cpu;
  }
  return out;
}

// How busy the process's threads were between two thread_cpu_seconds() snapshots over
// `seconds` of wall time: all threads together (in cores) and the busiest one (share of a core).
// A busiest share near 1 means that thread (the scheduler's, in the engine) bounds the run.
struct CpuUse {
  double cores = 0;
  double busiest_thread = 0;
};

inline CpuUse cpu_use(const std::map<long, double>& before, const std::map<long, double>& after,
                      double seconds) {
  CpuUse use;
  if (seconds <= 0) return use;
  for (const auto& [tid, cpu] : after) {
    auto it = before.find(tid);
    double used = cpu - (it == before.end() ? 0.0 : it->second);
    use.cores += used / seconds;
    use.busiest_thread = std::max(use.busiest_thread, used / seconds);
  }
  return use;
}

}  // namespace durable::bench
