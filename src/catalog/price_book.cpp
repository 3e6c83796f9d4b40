#include "catalog/price_book.hpp"

#include "catalog/catalog.hpp"
#include "catalog/sources.hpp"
#include "core/json_file.hpp"
#include "core/json_reader.hpp"

namespace tf::catalog {

Dollars PriceBook::unit_price_of(const Accelerator& a) const {
  auto it = unit_price.find(a.name);
  return it != unit_price.end() ? it->second : a.unit_price;
}

DollarsPerHour PriceBook::rental_price_of(const Accelerator& a) const {
  auto it = rental_price.find(a.name);
  return it != rental_price.end() ? it->second : a.rental_price;
}

namespace {

// Reads an optional {"<accelerator>": "<price>"} object and records its keys as figures needing a source.
template <class Price, class Parse>
void read_overrides(ObjectReader& obj, const std::string& key, std::map<std::string, Price>& out, Parse parse,
                    std::vector<detail::SourcedFigure>& figures) {
  auto r = obj.optional(key);
  if (!r) return;
  auto overrides = r->object();
  detail::SourcedFigure figure{key, true, {}};
  for (const auto& name : overrides.keys()) {
    JsonReader value = overrides.required(name);
    Price price = parse(value);
    if (!(price.value() > 0)) value.fail("must be greater than zero");
    out[name] = price;
    figure.entries.push_back(name);
  }
  figures.push_back(figure);
}

}  // namespace

PriceBook load_price_book(const std::filesystem::path& file) {
  const std::string file_name = file.string();
  const nlohmann::json doc = load_json_file(file_name);
  auto obj = JsonReader(doc, file_name).object();

  PriceBook book;
  book.name = file.stem().string();
  book.source = obj.required("source").as_string();
  // Figures left out keep PriceBook's defaults; each figure written needs a note in "sources".
  std::vector<detail::SourcedFigure> figures;
  auto figure = [&](const std::string& key) {
    auto r = obj.optional(key);
    if (r) figures.push_back({key, false, {}});
    return r;
  };

  if (auto r = figure("pricing"))
    book.pricing = r->as_enum({"capex", "rental"}) == "capex" ? Pricing::capex : Pricing::rental;
  if (auto r = figure("amortization")) {
    book.amortization = r->as_seconds();
    if (!(book.amortization.value() > 0)) r->fail("must be greater than zero");
  }
  if (auto r = figure("electricity")) book.electricity = r->as_dollars_per_kwh();
  // PUE is facility over IT power: 1.0 is the physical floor, above ~3 is a typo.
  if (auto r = figure("pue")) book.pue = r->as_double(1.0, 3.0);
  if (auto r = figure("network_capex_fraction")) book.network_capex_fraction = r->as_fraction();
  if (auto r = figure("opex_fraction_per_year")) book.opex_fraction_per_year = r->as_fraction();
  read_overrides(
      obj, "unit_price", book.unit_price, [](const JsonReader& v) { return v.as_dollars(); }, figures);
  read_overrides(
      obj, "rental_price", book.rental_price, [](const JsonReader& v) { return v.as_dollars_per_hour(); }, figures);

  book.sources = detail::read_sources(obj, figures);
  obj.finish();
  return book;
}

}  // namespace tf::catalog
