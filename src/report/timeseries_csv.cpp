#include "report/timeseries_csv.hpp"

#include <fmt/format.h>

#include <iterator>
#include <string>
#include <vector>

#include "metrics/timeseries.hpp"

namespace tf::report {

void write_timeseries_csv(std::ostream& out, const RunResults& r) {
  const auto& plan = *r.plan;
  std::vector<std::string> names;
  std::vector<metrics::PoolSpan> spans;
  for (const auto& pool : plan.pools) {
    names.push_back(pool.config->name);
    spans.push_back({pool.first_instance, pool.instances});
  }
  auto rows =
      metrics::tabulate(r.run->timeseries, names, spans, r.run->log, plan.classes, r.scenario->workload.client_latency);
  out << "interval_start_s,interval_end_s,scope,name,arrivals,completed,rejected,met_slo,slo_attainment,"
         "output_tokens,useful_tokens,output_tokens_per_s,utilization,outstanding,waiting,kv_used_fraction\n";
  std::string line;
  for (const auto& row : rows) {
    line.clear();
    auto it = std::back_inserter(line);
    double width = row.end - row.start;
    int64_t decided = row.completed + row.rejected;  // rejected requests count as misses
    fmt::format_to(it, "{},{},{},{},{},{},{},{},", row.start, row.end, row.scope, row.name, row.arrivals, row.completed,
                   row.rejected, row.met_slo);
    if (decided > 0) fmt::format_to(it, "{}", static_cast<double>(row.met_slo) / static_cast<double>(decided));
    fmt::format_to(it, ",{},{},{},", row.output_tokens, row.useful_tokens,
                   width > 0 ? static_cast<double>(row.output_tokens) / width : 0.0);
    if (row.has_pool_state)
      fmt::format_to(it, "{},{},{},{}", row.utilization, row.outstanding, row.waiting, row.kv_used_fraction);
    else
      line += ",,,";
    line += '\n';
    out << line;
  }
}

}  // namespace tf::report
