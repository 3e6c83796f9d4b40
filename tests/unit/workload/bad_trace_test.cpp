// Every malformed trace is a ConfigError naming the file and the line, raised when the workload is built.
#include <catch2/catch.hpp>

#include "workload_test_util.hpp"

using namespace tf;
using namespace tf::workload;
using namespace tf::workload::test;

namespace {
std::string error_for(const std::string& format, const std::string& path) {
  return config_error_of([&] { Workload w(with_trace(trace(format, path)), {"chat"}, 1, std::nullopt); });
}
const char* azure_header = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
const char* mooncake_row = "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 2, \"hash_ids\": [0]}\n";
}  // namespace

TEST_CASE("a missing trace file names the file") {
  TempDir dir;
  auto path = dir.path("nope.csv");
  CHECK_THAT(error_for("azure", path), Catch::Contains(path) && Catch::Contains("cannot open"));
}

TEST_CASE("a malformed line names its line number and what was expected") {
  TempDir dir;
  auto path = dir.write("t.csv", std::string(azure_header) +
                                     "2023-11-16 18:15:46.6805900,374,44\n"
                                     "2023-11-16 18:15:4x.0,374,44\n"
                                     "2023-11-16 18:15:50.0,374,44\n");
  CHECK_THAT(error_for("azure", path),
             Catch::Contains(path) && Catch::Contains("line 3") && Catch::Contains("expected a TIMESTAMP"));
}

TEST_CASE("a JSON Lines trace whose last line is cut mid-object is reported as truncated") {
  TempDir dir;
  auto path = dir.write("t.jsonl", std::string(mooncake_row) + mooncake_row + "{\"timestamp\": 5, \"input_len");
  CHECK_THAT(error_for("mooncake", path),
             Catch::Contains(path) && Catch::Contains("line 3") && Catch::Contains("truncated"));
}

TEST_CASE("a CSV trace whose last row lacks fields is reported as truncated") {
  TempDir dir;
  auto path = dir.write(
      "t.csv", std::string(azure_header) + "2023-11-16 18:15:46.6805900,374,44\n" + "2023-11-16 18:15:47.0,374");
  CHECK_THAT(error_for("azure", path), Catch::Contains(path) && Catch::Contains("line 3") &&
                                           Catch::Contains("truncated") &&
                                           Catch::Contains("expected 3 comma-separated fields"));
}

TEST_CASE("a trace with only a header is empty") {
  TempDir dir;
  auto path = dir.write("t.csv", azure_header);
  CHECK_THAT(error_for("azure", path), Catch::Contains(path) && Catch::Contains("line 2") && Catch::Contains("empty"));
}

TEST_CASE("a trace with no lines at all is empty") {
  TempDir dir;
  auto path = dir.write("t.jsonl", "");
  CHECK_THAT(error_for("mooncake", path),
             Catch::Contains(path) && Catch::Contains("line 1") && Catch::Contains("empty"));
}

TEST_CASE("a negative token count names its line") {
  TempDir dir;
  auto path =
      dir.write("t.jsonl", std::string(mooncake_row) +
                               "{\"timestamp\": 1, \"input_length\": 10, \"output_length\": -3}\n" + mooncake_row);
  CHECK_THAT(error_for("mooncake", path),
             Catch::Contains(path) && Catch::Contains("line 2") && Catch::Contains("non-negative output"));
}

TEST_CASE("a zero input token count names its line") {
  TempDir dir;
  auto path = dir.write("t.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n0,0,5\n1,5,5\n");
  CHECK_THAT(error_for("vidur", path),
             Catch::Contains(path) && Catch::Contains("line 2") && Catch::Contains("positive input"));
}

TEST_CASE("a non-numeric token count names its line") {
  TempDir dir;
  auto path = dir.write("t.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n0,5,5\n1,five,5\n2,5,5\n");
  CHECK_THAT(error_for("vidur", path), Catch::Contains(path) && Catch::Contains("line 3") &&
                                           Catch::Contains("expected an integer for num_prefill_tokens"));
}

TEST_CASE("a timestamp earlier than the previous row's names its line") {
  TempDir dir;
  auto path = dir.write("t.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n0,5,5\n2,5,5\n2,5,5\n1,5,5\n");
  CHECK_THAT(error_for("vidur", path),
             Catch::Contains(path) && Catch::Contains("line 5") && Catch::Contains("arrival order"));
}

TEST_CASE("a header without the format's columns names line 1 and the columns") {
  TempDir dir;
  auto path = dir.write("t.csv", "time,in,out\n0,5,5\n");
  CHECK_THAT(error_for("vidur", path), Catch::Contains(path) && Catch::Contains("line 1") &&
                                           Catch::Contains("arrived_at, num_prefill_tokens, num_decode_tokens"));
}

TEST_CASE("an unknown trace format lists the valid ones") {
  CHECK_THAT(error_for("burstgpt", azure_sample()), Catch::Contains("/workload/traces/0/format") &&
                                                        Catch::Contains(azure_sample()) &&
                                                        Catch::Contains("azure, mooncake, vidur"));
}

TEST_CASE("a class_mix naming an unknown class is a ConfigError at its path") {
  auto t = trace("azure", azure_sample());
  t.class_mix = {{"chat", 0.5}, {"vip", 0.5}};
  CHECK_THAT(config_error_of([&] { run(with_trace(t), {"chat"}); }),
             Catch::Contains("/workload/traces/0/class_mix/vip") && Catch::Contains("unknown class"));
}
