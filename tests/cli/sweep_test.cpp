#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <csignal>
#include <map>
#include <thread>

#include "cli_util.hpp"

using namespace tf::test;
namespace fs = std::filesystem;

namespace {

// 3 pool sizes x 4 load levels of the shipped quickstart scenario: 12 points.
const std::vector<std::string> kGrid12 = {"--grid", "cluster.pools.0.count=2,4,8", "--grid",
                                          "workload.rate_scale=2,4,8,16"};

std::vector<std::string> sweep_args(const fs::path& out, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"sweep", "scenarios/quickstart.json", "--jobs", "2", "--out", out.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string join(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args)
    s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

TEST_CASE("a 12-point sweep runs with --jobs 2, resumes after an interruption and reruns nothing finished") {
  auto out = temp_dir("sweep-resume");
  auto log = out.parent_path() / "tokenfactory-test-sweep-resume.log";
  auto args = sweep_args(out, kGrid12);

  // Interrupt the sweep once a few points have finished.
  pid_t pid = spawn_binary(args, log);
  REQUIRE(pid > 0);
  for (int i = 0; i < 12000 && finished_points(out) < 3; ++i)  // up to a minute on a busy machine
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGTERM);
  int code = wait_exit_code(pid);
  INFO(read_file(log));
  size_t before = finished_points(out);
  REQUIRE(before >= 3);
  REQUIRE(before < 12);  // the interruption came in the middle
  CHECK(code == 130);
  CHECK_THAT(read_file(log), Catch::Contains("run the same command again to resume"));
  // What finished before stays as it was; remember when each was written.
  std::map<std::string, fs::file_time_type> written;
  for (const auto& e : fs::directory_iterator(out))
    if (fs::exists(e.path() / "results.json"))
      written[e.path().filename()] = fs::last_write_time(e.path() / "results.json");

  auto again = run_binary(join(args));
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.output, Catch::Contains(fmt::format("({} already finished), {} to run", before, 12 - before)));
  CHECK(finished_points(out) == 12);
  for (const auto& [name, time] : written)
    CHECK(fs::last_write_time(out / name / "results.json") == time);

  auto rows = read_csv_rows(out / "sweep.csv");
  REQUIRE(rows.size() == 13);
  size_t status = column(rows[0], "status"), count = column(rows[0], "cluster.pools.0.count"),
         rate = column(rows[0], "workload.rate_scale"), cost = column(rows[0], "summary.cost_per_useful_mtok_usd");
  REQUIRE(cost < rows[0].size());
  CHECK(rows[1][0] == "point-0000");
  CHECK(rows[1][count] == "2");
  CHECK(rows[1][rate] == "2");
  CHECK(rows[12][count] == "8");
  CHECK(rows[12][rate] == "16");
  for (size_t i = 1; i < rows.size(); ++i)
    CHECK(rows[i][status] == "ok");
  auto sweep = read_json(out / "sweep.json");
  CHECK(sweep["points"].size() == 12);
  CHECK(sweep["points"][11]["values"]["workload.rate_scale"] == 16);
  // Each point is a real run of its values: its resolved scenario carries them.
  auto resolved = read_json(out / "point-0005" / "scenario.resolved.json");
  CHECK(resolved["cluster"]["pools"][0]["count"] == 4);
  CHECK(resolved["workload"]["rate_scale"] == 4.0);

  // A third invocation has nothing left to run.
  auto third = run_binary(join(args));
  CHECK(third.exit_code == 0);
  CHECK_THAT(third.output, Catch::Contains("(12 already finished), 0 to run"));
}

TEST_CASE("a sweep refuses to resume into a directory that holds a different sweep") {
  auto out = temp_dir("sweep-other");
  auto first = run_binary(join(sweep_args(out, {"--grid", "cluster.pools.0.count=4,8", "-q"})));
  REQUIRE(first.exit_code == 0);
  auto second = run_binary(join(sweep_args(out, {"--grid", "cluster.pools.0.count=2,8"})));
  CHECK(second.exit_code == 2);
  CHECK_THAT(second.output, Catch::Contains("points.json") && Catch::Contains("holds a different sweep"));
}

TEST_CASE("zipped lists and a sweep file run the points they describe") {
  auto out = temp_dir("sweep-file");
  auto file = out.parent_path() / "tokenfactory-test-sweep-file.json";
  write_file(file, R"({
    "scenario": ")" + (fs::current_path() / "scenarios/quickstart.json").string() +
                       R"(",
    "set": ["workload.traces.0.max_requests=400"],
    "zip": { "cluster.pools.0.count": [2, 8], "workload.rate_scale": [1, 8] },
    "grid": { "cluster.router.kind": ["round-robin", "least-outstanding"] }
  })");
  auto r = run_binary("sweep --file " + file.string() + " --jobs 2 -q --out " + out.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto sweep = read_json(out / "sweep.json");
  REQUIRE(sweep["points"].size() == 4);
  for (const auto& p : sweep["points"]) {
    CHECK(p["status"] == "ok");
    CHECK(p["summary"]["requests"] == 400);
    // Zipped: 2 accelerators always go with rate 1, 8 with rate 8.
    CHECK(p["values"]["workload.rate_scale"].get<int>() == (p["values"]["cluster.pools.0.count"] == 2 ? 1 : 8));
  }
  CHECK(sweep["points"][0]["values"]["cluster.router.kind"] == "round-robin");
}

TEST_CASE("a point whose run fails is marked failed in sweep.csv and the sweep exits 1") {
  auto out = temp_dir("sweep-failing-point");
  auto r = run_binary(join(sweep_args(
      out, {"--grid", "workload.traces.0.path=traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv,traces/none.csv",
            "--set", "workload.traces.0.max_requests=200"})));
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("point-0001 failed (exit code 2)") && Catch::Contains("no such trace file"));
  auto rows = read_csv_rows(out / "sweep.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows[1][1] == "ok");
  CHECK(rows[2][1] == "failed");
}

TEST_CASE("sweep rejects a path the scenario does not have, a value of the wrong type and a bad point, naming it") {
  auto out = temp_dir("sweep-bad");
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> fragments;
  };
  std::vector<Case> cases = {
      {{"--grid", "cluster.pools.0.cnt=2,4"}, {"--grid", "cluster.pools.0.cnt", "has no key \"cnt\""}},
      {{"--grid", "cluster.pools.0.count=two,4"}, {"--grid", "cluster.pools.0.count", "holds a number"}},
      {{"--grid", "workload.client_latency=5,10"}, {"workload.client_latency", "holds a string"}},
      {{"--zip", "cluster.pools.0.count=2,4", "--zip", "workload.rate_scale=1,2,3"}, {"equal lengths"}},
      {{"--range", "workload.rate_scale=1..4"}, {"--range", "workload.rate_scale", "--random"}},
      {{"--grid", "cluster.pools.0.instance.tp=1,16"}, {"point-0001", "cluster.pools.0.instance.tp=16"}},
      {{}, {"nothing to sweep"}},
  };
  for (const auto& c : cases) {
    auto r = run_binary(join(sweep_args(out / "x", c.args)));
    INFO(join(c.args) << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.rfind("tokenfactory: error: ", 0) == 0);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    for (const auto& f : c.fragments)
      CHECK_THAT(r.output, Catch::Contains(f));
    CHECK_FALSE(fs::exists(out / "x" / "points.json"));
  }
}

TEST_CASE("the job list runs as is under GNU parallel (local --sshloginfile) and collect merges the results") {
  REQUIRE(have_program("parallel"));  // Debian package parallel; tools/install-deps installs it
  auto dir = temp_dir("sweep-parallel");
  auto emit = run_binary(join(sweep_args(
      dir, {"--grid", "cluster.pools.0.count=4,8", "--grid", "workload.rate_scale=2,4", "--emit-jobs", dir.string()})));
  INFO(emit.output);
  REQUIRE(emit.exit_code == 0);
  CHECK_THAT(emit.output, Catch::Contains("parallel --sshloginfile hosts.txt < " + dir.string() + "/jobs.txt"));
  CHECK(finished_points(dir) == 0);  // --emit-jobs runs nothing itself

  // ":" is GNU parallel's name for this machine: the same code path as remote hosts, without ssh.
  write_file(dir / "hosts.txt", "2/:\n");
  auto par = run_shell("cd " + dir.string() + " && parallel --will-cite --sshloginfile hosts.txt < jobs.txt");
  INFO(par.output);
  REQUIRE(par.exit_code == 0);
  CHECK(finished_points(dir) == 4);

  auto collect = run_binary("collect " + dir.string());
  INFO(collect.output);
  REQUIRE(collect.exit_code == 0);
  CHECK_THAT(collect.output, Catch::Contains("4 points ok, 0 without results"));
  auto rows = read_csv_rows(dir / "sweep.csv");
  REQUIRE(rows.size() == 5);
  for (size_t i = 1; i < rows.size(); ++i)
    CHECK(rows[i][1] == "ok");

  // Running the list again skips every finished point.
  auto before = fs::last_write_time(dir / "point-0002" / "results.json");
  REQUIRE(run_shell("cd " + dir.string() + " && parallel --will-cite --jobs 2 < jobs.txt").exit_code == 0);
  CHECK(fs::last_write_time(dir / "point-0002" / "results.json") == before);
}

TEST_CASE("the Slurm array script is well formed and one array task runs its point") {
  auto dir = temp_dir("sweep-slurm");
  auto emit = run_binary(join(sweep_args(dir, {"--grid", "cluster.pools.0.count=2,4,8", "--set",
                                               "workload.traces.0.max_requests=200", "--emit-jobs", dir.string()})));
  REQUIRE(emit.exit_code == 0);
  std::string script = read_file(dir / "sweep.sbatch");
  INFO(script);
  CHECK(script.rfind("#!/bin/bash\n", 0) == 0);
  // sbatch reads #SBATCH lines only before the first command.
  std::istringstream lines(script);
  std::string line;
  bool command_seen = false, directive_after_command = false;
  std::vector<std::string> directives;
  while (std::getline(lines, line)) {
    if (line.rfind("#SBATCH ", 0) == 0) {
      directives.push_back(line.substr(8));
      if (command_seen) directive_after_command = true;
    } else if (!line.empty() && line[0] != '#') {
      command_seen = true;
    }
  }
  CHECK_FALSE(directive_after_command);
  CHECK(std::find(directives.begin(), directives.end(), "--array=0-2") != directives.end());
  CHECK(std::count_if(directives.begin(), directives.end(),
                      [](const std::string& d) { return d.rfind("--output=", 0) == 0; }) == 1);
  CHECK(run_shell("bash -n " + (dir / "sweep.sbatch").string()).exit_code == 0);
  // Array task 1 runs the second point and only it.
  auto task = run_shell("SLURM_ARRAY_TASK_ID=1 bash " + (dir / "sweep.sbatch").string());
  INFO(task.output);
  REQUIRE(task.exit_code == 0);
  CHECK(fs::exists(dir / "point-0001" / "results.json"));
  CHECK_FALSE(fs::exists(dir / "point-0000" / "results.json"));
  CHECK(read_json(dir / "point-0001" / "scenario.resolved.json")["cluster"]["pools"][0]["count"] == 4);
  auto collect = run_binary("collect " + dir.string());
  CHECK(collect.exit_code == 1);  // two points have not run
  CHECK_THAT(collect.output, Catch::Contains("1 points ok, 2 without results"));
}
