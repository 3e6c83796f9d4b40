#include "cli/report_command.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/atomic_file.hpp"
#include "cli/sweep_collect.hpp"
#include "core/error.hpp"
#include "report/html_report.hpp"

namespace fs = std::filesystem;

namespace tf::cli {

CLI::App* add_report_command(CLI::App& app, ReportOptions& o) {
  auto* c = app.add_subcommand("report",
                               "write one self-contained HTML report (opens offline) of a run or a sweep directory");
  c->add_option("dir", o.dir, "a run's --out directory (results.json) or a sweep's (points.json)")->required();
  c->add_option("--out", o.out, "the HTML file (default DIR/report.html)");
  c->add_flag("--points", o.points, "for a sweep, also write a report into each point's directory");
  return c;
}

int run_report(const ReportOptions& o) {
  fs::path dir = o.dir;
  fs::path out = o.out.empty() ? dir / "report.html" : fs::path(o.out);
  std::string html;
  if (fs::exists(dir / "results.json")) {
    html = report::render_html(report::run_report_data(dir));
  } else if (fs::exists(dir / "points.json")) {
    auto manifest = read_manifest(dir);
    if (o.points) {
      size_t written = 0;
      for (const auto& p : manifest["points"]) {
        fs::path point = dir / p["name"].get<std::string>();
        if (!fs::exists(point / "results.json")) continue;
        write_file_atomically(point / "report.html", report::render_html(report::run_report_data(point)));
        ++written;
      }
      std::cout << fmt::format("wrote report.html into {} point directories\n", written);
    }
    // sweep.json is what sweep and collect write; make it now when the points were run elsewhere.
    if (!fs::exists(dir / "sweep.json")) collect_sweep(dir);
    html = report::render_html(report::sweep_report_data(dir));
  } else {
    throw ConfigError(dir.string(), "",
                      "neither a run (results.json) nor a sweep (points.json): give the --out directory of "
                      "tokenfactory run or sweep");
  }
  write_file_atomically(out, html);
  std::cout << fmt::format("wrote {} ({:.0f} KB)\n", out.string(), static_cast<double>(html.size()) / 1024.0);
  return 0;
}

}  // namespace tf::cli
