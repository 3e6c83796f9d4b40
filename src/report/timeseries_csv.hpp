#pragma once
// timeseries.csv: one row per interval and scope (the whole factory, each class, each pool), from the
// engine's pool samples and the request log (metrics/timeseries.hpp). docs/report.md lists the columns.

#include <ostream>

#include "report/results.hpp"

namespace tf::report {

void write_timeseries_csv(std::ostream& out, const RunResults& r);

}  // namespace tf::report
