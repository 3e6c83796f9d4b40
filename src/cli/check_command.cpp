#include "cli/check_command.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "cli/child_process.hpp"
#include "cli/factory_loader.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "report/baseline.hpp"
#include "report/expect.hpp"
#include "report/results.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tf::cli {

namespace {

struct Target {
  std::string file;
  std::string name;
  std::vector<config::Expectation> expect;
  fs::path baseline_file;  // empty: no baseline
  json baseline;
  fs::path dir;  // where this check's run writes
};

struct Outcome {
  bool ran = false;
  int exit_code = -1;
  double seconds = 0;
  std::string error;  // the run's last log line when it failed
  std::vector<report::ExpectResult> expectations;
  std::vector<report::MetricComparison> comparisons;
  bool pass() const {
    if (!ran || exit_code != 0) return false;
    for (const auto& e : expectations)
      if (!e.pass) return false;
    for (const auto& c : comparisons)
      if (report::failed(c.verdict)) return false;
    return true;
  }
};

double parse_tolerance(const std::string& text, const std::string& where) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0)
    throw ConfigError("--tolerance", where,
                      fmt::format("expected a relative tolerance >= 0 such as 0.05 (5 %), got \"{}\"", text));
  return v;
}

json load_baseline(const fs::path& file) {
  json b = load_json_file(file.string());
  if (!b.is_object() || !b.contains("schema_version"))
    throw ConfigError(file.string(), "/schema_version", "not a tokenfactory results.json (no schema_version)");
  if (b["schema_version"] != report::kSchemaVersion)
    throw ConfigError(file.string(), "/schema_version",
                      fmt::format("baseline has results schema version {}, this build writes version {}: make the "
                                  "baseline again with this build",
                                  b["schema_version"].dump(), report::kSchemaVersion));
  return b;
}

std::string value_text(std::optional<double> v) {
  return v ? fmt::format("{:.6g}", *v) : std::string("null");
}

std::string change_text(double change) {
  if (std::isnan(change)) return "n/a";
  if (std::isinf(change)) return change > 0 ? "+inf" : "-inf";
  return fmt::format("{:+.1f}%", change * 100);
}

std::string limit_text(const report::MetricComparison& c) {
  double pct = c.tolerance * 100;
  switch (c.better) {
    case report::Better::lower:
      return fmt::format("+{:.1f}%", pct);
    case report::Better::higher:
      return fmt::format("-{:.1f}%", pct);
    default:
      return fmt::format("+-{:.1f}%", pct);
  }
}

const char* verdict_text(report::Verdict v) {
  switch (v) {
    case report::Verdict::same:
      return "ok";
    case report::Verdict::improved:
      return "improved";
    case report::Verdict::regressed:
      return "REGRESSED";
    default:
      return "CHANGED";
  }
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // Control characters other than tab and newline are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') break;
        out += c;
    }
  }
  return out;
}

std::string junit_xml(const std::vector<Target>& targets, const std::vector<Outcome>& outcomes) {
  struct Case {
    std::string classname, name, failure, error;
    double time = 0;
  };
  std::string suites;
  size_t all_tests = 0, all_failures = 0, all_errors = 0;
  double all_time = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    const auto& o = outcomes[i];
    std::vector<Case> cases;
    Case run{t.name, "run", "", "", o.seconds};
    if (!o.ran)
      run.error = "not run (interrupted)";
    else if (o.exit_code != 0)
      run.error = fmt::format("tokenfactory run exited with code {}: {}", o.exit_code, o.error);
    cases.push_back(run);
    for (const auto& e : o.expectations) {
      Case c{t.name + ".expect", e.expectation.metric + " " + report::describe_bound(e.expectation), "", "", 0};
      if (!e.pass)
        c.failure = fmt::format("{} is {}, expected {}", e.expectation.metric, value_text(e.value),
                                report::describe_bound(e.expectation));
      cases.push_back(c);
    }
    for (const auto& m : o.comparisons) {
      Case c{t.name + ".baseline", m.metric, "", "", 0};
      if (report::failed(m.verdict))
        c.failure = fmt::format("{}: baseline {}, now {}, change {}, limit {}", verdict_text(m.verdict),
                                value_text(m.baseline), value_text(m.now), change_text(m.change), limit_text(m));
      cases.push_back(c);
    }
    size_t failures = 0, errors = 0;
    std::string body;
    for (const auto& c : cases) {
      body += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\"", xml_escape(c.classname),
                          xml_escape(c.name), c.time);
      if (!c.failure.empty()) {
        ++failures;
        body += fmt::format(">\n      <failure type=\"{}\" message=\"{}\"/>\n    </testcase>\n",
                            c.classname.substr(c.classname.rfind('.') + 1), xml_escape(c.failure));
      } else if (!c.error.empty()) {
        ++errors;
        body += fmt::format(">\n      <error type=\"run\" message=\"{}\"/>\n    </testcase>\n", xml_escape(c.error));
      } else {
        body += "/>\n";
      }
    }
    suites += fmt::format(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3f}\">\n"
        "    <properties><property name=\"scenario\" value=\"{}\"/></properties>\n{}  </testsuite>\n",
        xml_escape(t.name), cases.size(), failures, errors, o.seconds, xml_escape(t.file), body);
    all_tests += cases.size();
    all_failures += failures;
    all_errors += errors;
    all_time += o.seconds;
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tokenfactory check\" tests=\"{}\" "
      "failures=\"{}\" errors=\"{}\" time=\"{:.3f}\">\n{}</testsuites>\n",
      all_tests, all_failures, all_errors, all_time, suites);
}

}  // namespace

CLI::App* add_check_command(CLI::App& app, CheckOptions& o) {
  auto* c = app.add_subcommand("check",
                               "run scenarios and check their expect blocks and, with --baseline, their summary "
                               "metrics against an earlier run; exit 1 on a regression");
  c->add_option("scenarios", o.scenarios, "scenario JSON files")->required();
  c->add_option("--set", o.sets, "override a value in every scenario: path=value")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  c->add_option("--baseline", o.baseline,
                "directory of an earlier check (--out): DIR/<scenario name>/results.json, or a run directory when "
                "checking one scenario");
  c->add_option("--tolerance", o.tolerances,
                "relative tolerance against the baseline (default 0.05); metric=value sets one metric's, e.g. "
                "summary.ttft_s.p99=0.2")
      ->allow_extra_args(false);
  c->add_option("--out", o.out, "where the runs are written (default runs/check): DIR/<scenario name>/");
  c->add_option("--junit", o.junit, "also write the outcome as JUnit XML to this file");
  c->add_option("--jobs,-j", o.jobs, "scenarios run at once (default: every core)");
  c->add_flag("--all", o.all, "list every compared metric, not only those beyond tolerance");
  c->add_flag("--quiet,-q", o.quiet, "print only failing scenarios and the summary line");
  return c;
}

int run_check(const CheckOptions& o) {
  // Everything that can be wrong with the input is found before any run starts.
  double tolerance = 0.05;
  std::map<std::string, double> per_metric;
  for (const auto& t : o.tolerances) {
    auto eq = t.find('=');
    if (eq == std::string::npos)
      tolerance = parse_tolerance(t, t);
    else
      per_metric[t.substr(0, eq)] = parse_tolerance(t.substr(eq + 1), t.substr(0, eq));
  }
  if (!per_metric.empty() && o.baseline.empty())
    throw ConfigError("--tolerance", per_metric.begin()->first, "a metric's tolerance needs --baseline");
  fs::path out = o.out.empty() ? fs::path("runs") / "check" : fs::path(o.out);
  std::vector<Target> targets;
  std::set<std::string> names;
  for (const auto& file : o.scenarios) {
    LoadedFactory l = load_factory(file, o.sets);
    Target t;
    t.file = file;
    t.name = l.scenario.scenario.name;
    t.expect = l.scenario.scenario.expect;
    t.dir = out / t.name;
    if (!names.insert(t.name).second)
      throw ConfigError(file, "/name",
                        fmt::format("two scenarios are named \"{}\": check writes each into "
                                    "<out>/<name>/, so names must differ",
                                    t.name));
    if (!o.baseline.empty()) {
      fs::path base = o.baseline;
      if (fs::exists(base / t.name / "results.json"))
        t.baseline_file = base / t.name / "results.json";
      else if (o.scenarios.size() == 1 && fs::exists(base / "results.json"))
        t.baseline_file = base / "results.json";
      else
        throw ConfigError(o.baseline, "",
                          fmt::format("no baseline for scenario \"{}\": expected {}", t.name,
                                      (base / t.name / "results.json").string()));
      t.baseline = load_baseline(t.baseline_file);
      report::compare_summaries(t.baseline, t.baseline, tolerance, per_metric);  // checks the --tolerance paths
    }
    targets.push_back(std::move(t));
  }

  std::vector<ChildJob> jobs;
  for (const auto& t : targets) {
    std::vector<std::string> args = {"run", t.file};
    for (const auto& s : o.sets) {
      args.push_back("--set");
      args.push_back(s);
    }
    args.insert(args.end(), {"--out", t.dir.string(), "-q"});
    jobs.push_back({args, t.dir / "run.log"});
  }
  ProgressBar bar("scenarios", jobs.size(), 0);
  auto run =
      run_children(self_executable(), jobs, o.jobs > 0 ? o.jobs : default_jobs(), nullptr, [&](const ChildProgress& p) {
        if (!o.quiet) bar.update(p);
      });
  bar.finish();
  if (run.interrupted) {
    std::cerr << "check interrupted\n";
    return 130;
  }

  std::vector<Outcome> outcomes(targets.size());
  size_t passed = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    auto& oc = outcomes[i];
    oc.ran = run.results[i].ran;
    oc.exit_code = run.results[i].exit_code;
    oc.seconds = run.results[i].seconds;
    if (oc.ran && oc.exit_code == 0) {
      json results = load_json_file((t.dir / "results.json").string());
      oc.expectations = report::evaluate_expectations(t.expect, results);
      if (!t.baseline_file.empty())
        oc.comparisons = report::compare_summaries(t.baseline, results, tolerance, per_metric);
    } else {
      std::ifstream in(t.dir / "run.log");
      std::string line;
      while (std::getline(in, line))
        if (!line.empty()) oc.error = line;
    }
    if (oc.pass()) ++passed;
    if (o.quiet && oc.pass()) continue;

    std::cout << fmt::format("\n{}  ({})  {}\n", t.name, t.file, oc.pass() ? "PASS" : "FAIL");
    if (!oc.ran || oc.exit_code != 0) {
      std::cout << fmt::format("  the run failed (exit code {}): {}\n", oc.exit_code, oc.error);
      continue;
    }
    if (t.expect.empty() && t.baseline_file.empty())
      std::cout << "  no expect block and no baseline: the run succeeded, nothing else to check\n";
    if (!oc.expectations.empty()) {
      std::cout << fmt::format("  {:<44} {:>16} {:>14}  {}\n", "expect", "bound", "value", "result");
      for (const auto& e : oc.expectations)
        std::cout << fmt::format("  {:<44} {:>16} {:>14}  {}\n", e.expectation.metric,
                                 report::describe_bound(e.expectation), value_text(e.value), e.pass ? "ok" : "FAIL");
    }
    if (!t.baseline_file.empty()) {
      size_t beyond = 0;
      for (const auto& c : oc.comparisons)
        if (c.verdict != report::Verdict::same) ++beyond;
      std::cout << fmt::format("  baseline {}: {} of {} summary metrics beyond tolerance\n", t.baseline_file.string(),
                               beyond, oc.comparisons.size());
      if (beyond > 0 || o.all) {
        std::cout << fmt::format("  {:<36} {:>14} {:>14} {:>11} {:>9}  {}\n", "metric", "baseline", "now", "change",
                                 "limit", "result");
        for (const auto& c : oc.comparisons)
          if (o.all || c.verdict != report::Verdict::same)
            std::cout << fmt::format("  {:<36} {:>14} {:>14} {:>11} {:>9}  {}\n", c.metric, value_text(c.baseline),
                                     value_text(c.now), change_text(c.change), limit_text(c), verdict_text(c.verdict));
      }
    }
  }
  std::cout << fmt::format("\ncheck: {} of {} scenarios passed; runs in {}\n", passed, targets.size(), out.string());
  if (!o.junit.empty()) {
    std::ofstream junit(o.junit, std::ios::binary | std::ios::trunc);
    if (!junit) throw ConfigError(o.junit, "", "cannot write file");
    junit << junit_xml(targets, outcomes);
  }
  // A run that rejected its input (a trace that cannot be read, say) is bad input, not a regression.
  for (const auto& oc : outcomes)
    if (oc.ran && oc.exit_code == 2) return 2;
  return passed == targets.size() ? 0 : 1;
}

}  // namespace tf::cli
