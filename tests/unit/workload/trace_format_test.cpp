#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

#include "workload/trace_file.hpp"
#include "workload/trace_format.hpp"
#include "workload_test_util.hpp"

using namespace tf;
using namespace tf::workload;
using namespace tf::workload::test;

namespace {
std::vector<TraceFile::Row> read_all(const TraceFile& f) {
  std::vector<TraceFile::Row> rows;
  auto c = f.all_rows();
  while (auto r = c.next())
    rows.push_back(std::move(*r));
  return rows;
}
}  // namespace

TEST_CASE("the registry lists the built-in trace formats") {
  CHECK(trace_formats() == std::vector<std::string>{"azure", "mooncake", "vidur"});
  for (const auto& f : trace_format_registry().formats())
    CHECK_FALSE(f.description.empty());
}

TEST_CASE("an Azure wall-clock timestamp parses to the exact nanosecond") {
  CHECK(parse_wall_clock_ns("2023-11-16 18:15:46.6805900") == 1700158546680590000);
  CHECK(parse_wall_clock_ns("2023-11-16T18:15:50.995169") == 1700158550995169000);
  CHECK(parse_wall_clock_ns("2023-11-16 18:15:46") == 1700158546000000000);
  CHECK(parse_wall_clock_ns("2023-11-16 19:15:46+01:00") == 1700158546000000000);
  CHECK_THROWS_AS(parse_wall_clock_ns("2023-02-29 00:00:00"), RowError);
  CHECK_THROWS_AS(parse_wall_clock_ns("2023-11-16 18:15"), RowError);
}

TEST_CASE("the azure reader gives arrivals since the first row and the token counts of each row") {
  TraceFile f("azure", azure_sample());
  CHECK(f.rows() == 50);
  auto rows = read_all(f);
  REQUIRE(rows.size() == 50);
  CHECK(rows[0].time_ns == 0);
  CHECK(rows[0].data.input_tokens == 374);
  CHECK(rows[0].data.output_tokens == 44);
  CHECK(rows[1].time_ns == 4'314'579'000);  // 18:15:50.9951690 - 18:15:46.6805900
  CHECK(rows[1].data.input_tokens == 396);
  CHECK(rows[1].data.output_tokens == 109);
  CHECK(rows[49].time_ns == 26'461'144'000);
  CHECK(rows[49].data.input_tokens == 194);
  CHECK(rows[49].data.output_tokens == 217);
  CHECK(rows[49].data.prefix_blocks.empty());
  CHECK(f.span_ns() == 26'461'144'000);
}

TEST_CASE("the mooncake reader reads milliseconds, lengths and prefix block hashes") {
  TraceFile f("mooncake", mooncake_sample());
  auto rows = read_all(f);
  REQUIRE(rows.size() == 50);
  CHECK(rows[0].time_ns == 0);
  CHECK(rows[0].data.input_tokens == 6758);
  CHECK(rows[0].data.output_tokens == 500);
  CHECK(rows[0].data.prefix_blocks == std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13});
  CHECK(rows[4].data.output_tokens == 3);
  CHECK(rows[49].time_ns == 15'000'000'000);
  CHECK(rows[49].data.input_tokens == 23631);
  CHECK(rows[49].data.output_tokens == 362);
  CHECK(rows[49].data.prefix_blocks.size() == 47);  // ceil(23631 / 512)
}

TEST_CASE("the vidur reader holds the same requests as the Azure trace it re-encodes") {
  auto vidur = read_all(TraceFile("vidur", vidur_sample()));
  auto azure = read_all(TraceFile("azure", azure_sample()));
  REQUIRE(vidur.size() == azure.size());
  for (size_t i = 0; i < vidur.size(); ++i) {
    CHECK(vidur[i].data.input_tokens == azure[i].data.input_tokens);
    CHECK(vidur[i].data.output_tokens == azure[i].data.output_tokens);
    CHECK(std::abs(vidur[i].time_ns - azure[i].time_ns) <= 1'000);  // vidur keeps microseconds
  }
}

TEST_CASE("the vidur reader finds its columns by header name among others") {
  TempDir dir;
  auto path = dir.write("t.csv",
                        "num_decode_tokens,extra,arrived_at,num_prefill_tokens\n"
                        "10,x,0.5,100\n"
                        "20,y,1.25,\"200\"\n");
  auto rows = read_all(TraceFile("vidur", path));
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].time_ns == 750'000'000);
  CHECK(rows[1].data.input_tokens == 200);
  CHECK(rows[1].data.output_tokens == 20);
}

TEST_CASE("an output count of 0 is raised to 1 and counted") {
  TempDir dir;
  auto path = dir.write("t.jsonl",
                        "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 0, \"hash_ids\": [1]}\n"
                        "{\"timestamp\": 10, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [1]}\n");
  TraceFile f("mooncake", path);
  CHECK(f.clamped_outputs() == 1);
  auto rows = read_all(f);
  CHECK(rows[0].data.output_tokens == 1);
  CHECK(rows[0].data.output_clamped);
  CHECK(rows[1].data.output_tokens == 2);
}

TEST_CASE("the full Azure 2023 conv trace has 19,366 requests over 3,501.7 s") {
  TraceFile f("azure", azure_conv());
  CHECK(f.rows() == 19366);
  CHECK(f.span().value() == Approx(3501.7).margin(0.1));
  CHECK(f.clamped_outputs() == 0);
}

TEST_CASE("the full Mooncake conversation trace has 12,031 requests") {
  TraceFile f("mooncake", mooncake_conversation());
  CHECK(f.rows() == 12031);
  CHECK(f.span().value() == Approx(3536.999));
}

TEST_CASE("a cursor started after a time skips exactly the rows at or before it") {
  TraceFile f("azure", azure_conv());
  const int64_t after = f.span_ns() / 2;
  auto all = read_all(f);
  size_t expected = 0;
  for (const auto& r : all)
    expected += r.time_ns > after ? 1 : 0;
  auto c = f.rows_after(after);
  auto first = c.next();
  REQUIRE(first);
  CHECK(first->index == static_cast<int64_t>(all.size() - expected));
  size_t n = 1;
  while (c.next())
    ++n;
  CHECK(n == expected);
}

TEST_CASE("a CSV trace saved with a byte-order mark and CRLF line ends reads normally") {
  TempDir dir;
  auto path =
      dir.write("t.csv", "\xEF\xBB\xBFTIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:15:46.5,10,3\r\n");
  auto rows = read_all(TraceFile("azure", path));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].data.input_tokens == 10);
}

TEST_CASE("every Mooncake row reads the same as a general JSON parser reads it") {
  // The reader scans the usual line shape by hand and hands anything else to a JSON parser; this checks
  // the hand scan against nlohmann on every row of the shipped traces.
  auto parser = trace_format_registry().get("mooncake", "", "").make_parser();
  for (const auto& path : {mooncake_conversation(), source_path("traces/mooncake/synthetic_trace.jsonl")}) {
    std::ifstream in(path);
    std::string line;
    int64_t n = 0;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line);
      TraceRow row;
      parser->parse(line, row);
      INFO(path << " line " << n + 1);
      REQUIRE(row.time_ns == j["timestamp"].get<int64_t>() * 1'000'000);
      REQUIRE(row.input_tokens == j["input_length"].get<int64_t>());
      REQUIRE(row.output_tokens == std::max<int64_t>(1, j["output_length"].get<int64_t>()));
      REQUIRE(row.prefix_blocks == j["hash_ids"].get<std::vector<uint64_t>>());
      ++n;
    }
    CHECK(n > 1000);
  }
}

TEST_CASE("a Mooncake row in any valid JSON spelling gives the same request") {
  auto parser = trace_format_registry().get("mooncake", "", "").make_parser();
  auto read = [&](std::string_view line) {
    TraceRow row;
    parser->parse(line, row);
    return row;
  };
  const TraceRow plain = read(R"({"timestamp": 27, "input_length": 1000, "output_length": 5, "hash_ids": [3, 0, 17]})");
  CHECK(plain.time_ns == 27'000'000);
  CHECK(plain.prefix_blocks == std::vector<uint64_t>{3, 0, 17});
  for (std::string_view line : {
           R"({"timestamp":27,"input_length":1000,"output_length":5,"hash_ids":[3,0,17]})",
           " { \"hash_ids\" : [ 3 ,0,\t17 ] , \"output_length\":5,\"input_length\" : 1000, \"timestamp\": 27 } ",
           R"({"timestamp": 27.0, "input_length": 1000, "output_length": 5, "hash_ids": [3, 0, 17]})",
           R"({"timestamp": 27, "input_length": 1e3, "output_length": 5, "hash_ids": [3, 0, 17]})",
           R"({"timestamp": 27, "input_length": 1000, "output_length": 5, "hash_ids": [3, 0, 17], "note": "x"})",
           R"({"tim\u0065stamp": 27, "input_length": 1000, "output_length": 5, "hash_ids": [3, 0, 17]})",
       }) {
    INFO(line);
    TraceRow row = read(line);
    CHECK(row.time_ns == plain.time_ns);
    CHECK(row.input_tokens == plain.input_tokens);
    CHECK(row.output_tokens == plain.output_tokens);
    CHECK(row.prefix_blocks == plain.prefix_blocks);
  }
  CHECK(read(R"({"timestamp": 1, "input_length": 2, "output_length": 3})").prefix_blocks.empty());
  CHECK(read(R"({"timestamp": 1, "input_length": 2, "output_length": 3, "hash_ids": []})").prefix_blocks.empty());
  CHECK_THROWS_AS(read(R"({"timestamp": 01, "input_length": 2, "output_length": 3})"), RowError);
  CHECK_THROWS_AS(read(R"({"timestamp": 1, "input_length": 2, "output_length": 3, "hash_ids": [-1]})"), RowError);
  CHECK_THROWS_AS(read(R"({"timestamp": 1, "input_length": 2, "output_length": 3} x)"), RowError);
  CHECK_THROWS_AS(read(R"({"timestamp": 1, "input_length": 2})"), RowError);
}

TEST_CASE("a trace held in memory reads exactly as the same trace streamed from disk") {
  for (const auto& [format, path] : std::vector<std::pair<std::string, std::string>>{
           {"azure", azure_conv()}, {"mooncake", mooncake_conversation()}, {"vidur", vidur_sample()}}) {
    INFO(path);
    TraceFile cached(format, path);
    TraceFile streamed(format, path, std::nullopt, "", /*cache_bytes=*/0);
    CHECK(cached.in_memory());
    CHECK_FALSE(streamed.in_memory());
    REQUIRE(cached.rows() == streamed.rows());
    CHECK(cached.span_ns() == streamed.span_ns());
    CHECK(cached.prefix_block_bound() == streamed.prefix_block_bound());
    for (int64_t after : {int64_t{-1}, int64_t{0}, cached.span_ns() / 3, cached.span_ns() - 1, cached.span_ns()}) {
      auto a = cached.rows_after(after), b = streamed.rows_after(after);
      int64_t n = 0;
      while (true) {
        auto x = a.next(), y = b.next();
        REQUIRE(x.has_value() == y.has_value());
        if (!x) break;
        REQUIRE(x->index == y->index);
        REQUIRE(x->time_ns == y->time_ns);
        REQUIRE(x->data.time_ns == y->data.time_ns);
        REQUIRE(x->data.input_tokens == y->data.input_tokens);
        REQUIRE(x->data.output_tokens == y->data.output_tokens);
        REQUIRE(x->data.output_clamped == y->data.output_clamped);
        REQUIRE(x->data.prefix_blocks == y->data.prefix_blocks);
        ++n;
      }
      CHECK((after >= cached.span_ns() ? n == 0 : n > 0));
    }
  }
}

TEST_CASE("a trace larger than the memory budget streams, and max_requests keeps the cache to the kept rows") {
  CHECK_FALSE(TraceFile("mooncake", mooncake_conversation(), std::nullopt, "", 100'000).in_memory());
  TraceFile head("mooncake", mooncake_conversation(), 100, "", 100'000);
  CHECK(head.in_memory());
  CHECK(head.rows() == 100);
  auto rows = read_all(head);
  CHECK(rows.size() == 100);
  CHECK(rows.back().index == 99);
}
