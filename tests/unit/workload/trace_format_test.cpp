#include <catch2/catch.hpp>

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
