#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/json_reader.hpp"

using namespace tf;

TEST_CASE("an unknown key is rejected with its JSON path and the allowed keys") {
  auto doc = nlohmann::json::parse(R"({"a": {"count": 3, "cuont": 4}})");
  JsonReader root(doc, "x.json");
  auto top = root.object();
  auto a = top.required("a").object();
  CHECK(a.required("count").as_int(1, 10) == 3);
  try {
    a.finish();
    FAIL("no exception");
  } catch (const ConfigError& e) {
    CHECK(e.file() == "x.json");
    CHECK(e.where() == "/a/cuont");
    CHECK_THAT(e.what(), Catch::Contains("unknown key \"cuont\"") && Catch::Contains("count"));
  }
}

TEST_CASE("a missing required key names the object's path") {
  auto doc = nlohmann::json::parse(R"({"pools": [{"name": "x"}]})");
  JsonReader root(doc, "s.json");
  auto pool = root.object().required("pools").array().at(0).object();
  CHECK_THROWS_WITH(pool.required("count"), "s.json: /pools/0: missing required key \"count\"");
}

TEST_CASE("a value with the wrong unit or type names its path") {
  auto doc = nlohmann::json::parse(R"({"latency": "10 parsecs", "n": "3", "t": 5})");
  auto obj = JsonReader(doc, "s.json").object();
  CHECK_THROWS_WITH(obj.required("latency").as_seconds(),
                    "s.json: /latency: expected a duration such as \"50ms\" or \"2s\", got \"10 parsecs\"");
  CHECK_THROWS_WITH(obj.required("n").as_int(0, 9), Catch::Contains("/n: expected an integer"));
  CHECK_THROWS_WITH(obj.required("t").as_seconds(), Catch::Contains("/t: expected a string with a unit"));
}

TEST_CASE("malformed JSON is reported with line and column") {
  try {
    parse_json_text("{\n  \"a\": 1,\n  \"b\": ]\n}", "bad.json");
    FAIL("no exception");
  } catch (const ConfigError& e) {
    CHECK(e.file() == "bad.json");
    CHECK(e.where().rfind("line 3", 0) == 0);
  }
}

TEST_CASE("a missing file is a ConfigError naming it") {
  CHECK_THROWS_WITH(load_json_file("/nonexistent/x.json"), Catch::Contains("/nonexistent/x.json"));
}
