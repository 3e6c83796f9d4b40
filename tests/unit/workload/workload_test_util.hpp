#pragma once
// Helpers shared by the workload tests: trace paths, draining a source, temporary trace files.

#include <catch2/catch.hpp>

#include <unistd.h>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/scenario.hpp"
#include "core/error.hpp"
#include "workload/workload.hpp"

namespace tf::workload::test {

inline std::string source_path(const std::string& relative) {
  return std::string(TF_SOURCE_ROOT) + "/" + relative;
}

inline std::string azure_sample() {
  return source_path("tests/data/azure_conv_head50.csv");
}
inline std::string mooncake_sample() {
  return source_path("tests/data/mooncake_conversation_head50.jsonl");
}
inline std::string vidur_sample() {
  return source_path("tests/data/vidur_splitwise_conv_head50.csv");
}
inline std::string azure_conv() {
  return source_path("traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv");
}
inline std::string mooncake_conversation() {
  return source_path("traces/mooncake/conversation_trace.jsonl");
}

inline config::TraceConfig trace(const std::string& format, const std::string& path) {
  config::TraceConfig t;
  t.format = format;
  t.path = path;
  return t;
}

inline config::WorkloadConfig with_trace(const config::TraceConfig& t) {
  config::WorkloadConfig w;
  w.traces.push_back(t);
  return w;
}

inline std::vector<Request> drain(Workload& w) {
  std::vector<Request> out;
  while (auto r = w.next())
    out.push_back(std::move(*r));
  return out;
}

inline std::vector<Request> run(const config::WorkloadConfig& cfg, const std::vector<std::string>& classes = {"chat"},
                                uint64_t seed = 1, std::optional<Seconds> duration = std::nullopt) {
  Workload w(cfg, classes, seed, duration);
  return drain(w);
}

// A fresh directory under the system temp dir, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("tf_workload_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `content` byte for byte (no newline added) and returns the file's path.
  std::string write(const std::string& name, const std::string& content) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Runs f, which must throw ConfigError, and returns its what().
template <class F>
std::string config_error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("expected a ConfigError");
  return {};
}

}  // namespace tf::workload::test
