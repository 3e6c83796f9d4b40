#include <catch2/catch.hpp>

#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "unit/catalog/temp_files.hpp"

using namespace tf;
using namespace tf::catalog;

namespace {

const std::string kH100 = "models/hardware/h100-sxm.json";

// Loads `doc` as a hardware file and returns the ConfigError it raises.
ConfigError load_error(const nlohmann::json& doc, std::string* file_out = nullptr) {
  test::TempDir dir;
  auto file = dir.write("broken.json", doc);
  if (file_out) *file_out = file.string();
  try {
    load_accelerator(file);
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError");
  return ConfigError("", "", "");  // not reached: FAIL throws
}

}  // namespace

TEST_CASE("every shipped hardware file loads with a positive bf16 peak, HBM and a source for each figure") {
  Catalog catalog(TF_SOURCE_ROOT);
  auto names = catalog.accelerator_names();
  REQUIRE(names.size() == 10);
  for (const auto& name : names) {
    INFO(name);
    const Accelerator& a = catalog.accelerator(name);
    CHECK(a.name == name);
    CHECK(a.peak(Dtype::bf16).value() > 0);
    CHECK(a.hbm_capacity.value() > 0);
    CHECK(a.hbm_bandwidth.value() > 0);
    CHECK(a.scale_up_domain_size >= 8);
    CHECK(a.idle_power <= a.memory_bound_power);
    CHECK(a.memory_bound_power <= a.tdp);
    // 12 scalar figures plus one note per supported dtype.
    CHECK(a.sources.size() == 12 + a.peak_compute.size());
  }
}

TEST_CASE("datasheet figures are read into SI units") {
  Accelerator h100 = load_accelerator(std::string(TF_SOURCE_ROOT) + "/" + kH100);
  CHECK(h100.name == "h100-sxm");
  CHECK(h100.vendor == "NVIDIA");
  CHECK(h100.peak(Dtype::bf16).value() == Approx(989e12));
  CHECK(h100.peak(Dtype::fp8).value() == Approx(1979e12));
  CHECK(h100.hbm_capacity.value() == Approx(80e9));
  CHECK(h100.hbm_bandwidth.value() == Approx(3.35e12));
  CHECK(h100.scale_up_bandwidth.value() == Approx(450e9));
  CHECK(h100.scale_out_bandwidth.value() == Approx(50e9));  // 400 Gb/s
  CHECK(h100.scale_up_latency.value() == Approx(5e-6));
  CHECK(h100.tdp.value() == Approx(700));
  CHECK(h100.idle_power.value() == Approx(75));
  CHECK(h100.memory_bound_power.value() == Approx(380));
  CHECK(h100.rental_price.value() > 0);
  CHECK_THAT(h100.sources.at("/peak_compute/bf16"), Catch::Contains("PUBLISHED.md"));
}

TEST_CASE("domain sizes follow the scale-up fabric: 8 per HGX node, 72 per NVL72, 384 per CloudMatrix") {
  Catalog catalog(TF_SOURCE_ROOT);
  CHECK(catalog.accelerator("h100-sxm").scale_up_domain_size == 8);
  CHECK(catalog.accelerator("ascend-910b").scale_up_domain_size == 8);
  CHECK(catalog.accelerator("gb200").scale_up_domain_size == 72);
  CHECK(catalog.accelerator("ascend-910c").scale_up_domain_size == 384);
  CHECK(catalog.accelerator("h800").rental_price.value() == Approx(2.0));
}

TEST_CASE("a dtype missing from peak_compute is unsupported") {
  Catalog catalog(TF_SOURCE_ROOT);
  const Accelerator& a100 = catalog.accelerator("a100-sxm-80gb");
  CHECK(a100.supports(Dtype::int8));
  CHECK_FALSE(a100.supports(Dtype::fp8));
  CHECK_THROWS_AS(a100.peak(Dtype::fp8), std::out_of_range);
  CHECK(catalog.accelerator("b200").supports(Dtype::fp4));
  CHECK_FALSE(catalog.accelerator("ascend-910c").supports(Dtype::fp8));
}

TEST_CASE("an unknown key in a hardware file is a ConfigError with the file and JSON path") {
  auto doc = test::shipped(kH100);
  doc["hbm_capacty"] = "80GB";
  std::string file;
  ConfigError e = load_error(doc, &file);
  CHECK(e.file() == file);
  CHECK(e.where() == "/hbm_capacty");
  CHECK_THAT(e.what(), Catch::Contains("unknown key") && Catch::Contains("hbm_capacity"));
}

TEST_CASE("an unknown key inside sources is rejected with its path") {
  auto doc = test::shipped(kH100);
  doc["sources"]["hbm_size"] = "a datasheet";
  CHECK(load_error(doc).where() == "/sources/hbm_size");
}

TEST_CASE("a dtype name outside bf16, fp8, int8 and fp4 is rejected with its path") {
  auto doc = test::shipped(kH100);
  doc["peak_compute"]["fp16"] = "989TFLOPS";
  ConfigError e = load_error(doc);
  CHECK(e.where() == "/peak_compute/fp16");
  CHECK_THAT(e.message(), Catch::Contains("bf16, fp8, int8, fp4"));
}

TEST_CASE("a datasheet without a bf16 peak is rejected") {
  auto doc = test::shipped(kH100);
  doc["peak_compute"].erase("bf16");
  doc["sources"]["peak_compute"].erase("bf16");
  CHECK(load_error(doc).where() == "/peak_compute");
}

TEST_CASE("a figure without a unit is rejected with its path") {
  auto doc = test::shipped(kH100);
  doc["hbm_capacity"] = 80;
  ConfigError e = load_error(doc);
  CHECK(e.where() == "/hbm_capacity");
  CHECK_THAT(e.message(), Catch::Contains("unit"));
}

TEST_CASE("a figure without a source is rejected") {
  auto doc = test::shipped(kH100);
  doc["sources"].erase("tdp");
  ConfigError e = load_error(doc);
  CHECK(e.where() == "/sources");
  CHECK_THAT(e.message(), Catch::Contains("\"tdp\""));
}

TEST_CASE("a source that says only \"estimate\" is rejected: the reasoning is required") {
  auto doc = test::shipped(kH100);
  doc["sources"]["tdp"] = "estimate:";
  CHECK(load_error(doc).where() == "/sources/tdp");
}

TEST_CASE("power figures must satisfy idle <= memory-bound <= TDP") {
  auto doc = test::shipped(kH100);
  doc["memory_bound_power"] = "900W";
  ConfigError e = load_error(doc);
  CHECK(e.where() == "/memory_bound_power");
  CHECK_THAT(e.message(), Catch::Contains("tdp"));
}

TEST_CASE("dtype names parse, print and size as documented, and fp16 is priced as bf16") {
  CHECK(parse_dtype("bf16") == Dtype::bf16);
  CHECK(parse_dtype("fp16") == Dtype::bf16);
  CHECK(parse_dtype("fp8") == Dtype::fp8);
  CHECK(parse_dtype("int8") == Dtype::int8);
  CHECK(parse_dtype("fp4") == Dtype::fp4);
  CHECK_FALSE(parse_dtype("fp32").has_value());
  CHECK_FALSE(parse_dtype("BF16").has_value());
  for (Dtype d : {Dtype::bf16, Dtype::fp8, Dtype::int8, Dtype::fp4})
    CHECK(parse_dtype(to_string(d)) == d);
  CHECK(dtype_bytes(Dtype::bf16) == 2.0);
  CHECK(dtype_bytes(Dtype::fp8) == 1.0);
  CHECK(dtype_bytes(Dtype::int8) == 1.0);
  CHECK(dtype_bytes(Dtype::fp4) == 0.5);
}
