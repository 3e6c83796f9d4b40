#include <catch2/catch.hpp>

#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "unit/catalog/temp_files.hpp"

using namespace tf;
using namespace tf::catalog;

TEST_CASE("the default price book amortises capex over three years with a PUE of 1.3") {
  PriceBook book = load_price_book(std::string(TF_SOURCE_ROOT) + "/models/prices/default.json");
  CHECK(book.name == "default");
  CHECK(book.pricing == Pricing::capex);
  CHECK(book.amortization.value() == Approx(3 * 365 * 86400.0));
  CHECK(book.electricity.value() == Approx(0.08));
  CHECK(book.pue == Approx(1.3));
  CHECK(book.network_capex_fraction == Approx(0.15));
  CHECK(book.unit_price.empty());
  CHECK(book.sources.count("/pue") == 1);
}

TEST_CASE("the rental price book charges rental rates and no power on top") {
  PriceBook book = Catalog(TF_SOURCE_ROOT).price_book("rental");
  CHECK(book.pricing == Pricing::rental);
  CHECK(book.electricity.value() == 0.0);
}

TEST_CASE("per-accelerator overrides replace the datasheet price, others keep it") {
  test::TempDir dir;
  auto doc = test::shipped("models/prices/default.json");
  doc["unit_price"] = {{"h100-sxm", "$30k"}};
  doc["rental_price"] = {{"h800", "$1.50/h"}};
  doc["sources"]["unit_price"] = {{"h100-sxm", "estimate: a negotiated discount"}};
  doc["sources"]["rental_price"] = {{"h800", "estimate: a spot price"}};
  auto file = dir.write("discount.json", doc);
  Catalog catalog(TF_SOURCE_ROOT);
  PriceBook book = catalog.price_book(file.string());
  CHECK(book.name == "discount");
  CHECK(book.unit_price_of(catalog.accelerator("h100-sxm")).value() == Approx(30000));
  CHECK(book.unit_price_of(catalog.accelerator("a100-sxm-80gb")) == catalog.accelerator("a100-sxm-80gb").unit_price);
  CHECK(book.rental_price_of(catalog.accelerator("h800")).value() == Approx(1.5));
  CHECK(book.sources.at("/unit_price/h100-sxm") == "estimate: a negotiated discount");
}

TEST_CASE("an override for an unknown accelerator names its path and the known accelerators") {
  test::TempDir dir;
  auto doc = test::shipped("models/prices/default.json");
  doc["unit_price"] = {{"h1000", "$30k"}};
  doc["sources"]["unit_price"] = {{"h1000", "estimate: typo"}};
  auto file = dir.write("typo.json", doc);
  try {
    Catalog(TF_SOURCE_ROOT).price_book(file.string());
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.file() == file.string());
    CHECK(e.where() == "/unit_price/h1000");
    CHECK_THAT(e.message(), Catch::Contains("h100-sxm"));
  }
}

TEST_CASE("an unknown key in a price book is rejected with its path") {
  test::TempDir dir;
  auto doc = test::shipped("models/prices/default.json");
  doc["electricty"] = "$0.10/kWh";
  auto file = dir.write("bad.json", doc);
  try {
    load_price_book(file);
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.file() == file.string());
    CHECK(e.where() == "/electricty");
  }
}

TEST_CASE("a price book figure without a source is rejected") {
  test::TempDir dir;
  auto doc = test::shipped("models/prices/default.json");
  doc["sources"].erase("electricity");
  auto file = dir.write("bad.json", doc);
  CHECK_THROWS_WITH(load_price_book(file), Catch::Contains("/sources") && Catch::Contains("\"electricity\""));
}

TEST_CASE("price book values out of range name their path") {
  test::TempDir dir;
  auto doc = test::shipped("models/prices/default.json");
  doc["pue"] = 0.9;
  CHECK_THROWS_WITH(load_price_book(dir.write("a.json", doc)), Catch::Contains("/pue"));
  doc = test::shipped("models/prices/default.json");
  doc["pricing"] = "lease";
  CHECK_THROWS_WITH(load_price_book(dir.write("b.json", doc)),
                    Catch::Contains("/pricing") && Catch::Contains("rental"));
  doc = test::shipped("models/prices/default.json");
  doc["amortization"] = "3y";
  CHECK_THROWS_WITH(load_price_book(dir.write("c.json", doc)), Catch::Contains("/amortization"));
}
