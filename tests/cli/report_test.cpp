#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <regex>

#include "cli_util.hpp"

using namespace tf::test;
namespace fs = std::filesystem;

namespace {

// Debian's chromium, headless, as root in CI: no sandbox, no network, a fresh profile each time.
std::string chromium(const std::string& flags, const fs::path& page, const fs::path& stderr_file) {
  auto profile = fs::temp_directory_path() / ("tokenfactory-chromium-" + page.parent_path().filename().string());
  fs::remove_all(profile);
  return "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
         "--disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage "
         "--user-data-dir=" +
         profile.string() + " " + flags + " file://" + page.string() + " 2> " + stderr_file.string();
}

struct Rendered {
  std::string dom;          // the document after its scripts ran
  std::string console_log;  // Chromium's log with console messages (--enable-logging=stderr --v=0)
};

Rendered render(const fs::path& page) {
  auto err = page.parent_path() / "chromium-dom.log";
  // Headless Chromium on a loaded machine now and then fails to start (exit 21): up to three tries.
  const std::string flags = "--enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom";
  auto r = run_shell(chromium(flags, page, err), false);
  for (int attempt = 1; attempt < 3 && r.exit_code != 0; ++attempt)
    r = run_shell(chromium(flags, page, err), false);
  INFO(read_file(err));
  REQUIRE(r.exit_code == 0);
  return {r.output, read_file(err)};
}

// Width, height and byte size of a PNG file (0s when it is not one).
struct Png {
  uint32_t width = 0, height = 0;
  size_t bytes = 0;
};

Png read_png(const fs::path& p) {
  std::string d = read_file(p);
  Png png;
  if (d.size() < 24 || d.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return png;
  auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(d[at])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(d[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(d[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(d[at + 3]));
  };
  png.width = be32(16);
  png.height = be32(20);
  png.bytes = d.size();
  return png;
}

Png screenshot(const fs::path& page, const fs::path& png) {
  auto err = png.parent_path() / "chromium-shot.log";
  // Headless Chromium on a loaded machine now and then exits 0 without writing the file, or fails to start (exit
  // 21): try again (up to three times) rather than judge the page by a screenshot that was never taken.
  Png shot;
  int exit_code = 0;
  for (int attempt = 0; attempt < 3 && (exit_code != 0 || shot.bytes == 0); ++attempt) {
    fs::remove(png);
    exit_code =
        run_shell(chromium("--hide-scrollbars --window-size=1200,3000 --virtual-time-budget=5000 --screenshot=" +
                               png.string(),
                           page, err),
                  false)
            .exit_code;
    shot = exit_code == 0 ? read_png(png) : Png{};
  }
  INFO(read_file(err));
  REQUIRE(exit_code == 0);
  return shot;
}

// What every report must show in a real browser: the page's script ran to the end and drew `charts` charts,
// no script error or console error happened, and the screenshot holds far more than a blank page does.
void check_in_browser(const fs::path& page, int charts) {
  REQUIRE(have_program("chromium"));  // Debian package chromium; tools/install-deps installs it
  auto r = render(page);
  INFO(r.console_log);
  std::smatch root;
  REQUIRE(std::regex_search(r.dom, root, std::regex("<html[^>]*>")));
  CHECK_THAT(root.str(), Catch::Contains("data-tf-status=\"rendered\""));
  CHECK_THAT(root.str(), Catch::Contains(fmt::format("data-tf-charts=\"{}\"", charts)));
  CHECK_THAT(root.str(), !Catch::Contains("data-tf-errors"));  // set by the page on any script or console error
  // Chromium logs every console message and uncaught exception of the page as a CONSOLE line.
  CHECK_THAT(r.console_log, !Catch::Contains(":CONSOLE"));
  CHECK_THAT(r.console_log, !Catch::Contains("Uncaught"));

  // A blank page's screenshot, taken once per test process, is the yardstick for "empty". Its directory (and so
  // Chromium's profile) is the test's own: the run and sweep tests run in parallel, and a shared one was deleted
  // by one while Chromium wrote into it for the other.
  static const Png blank = [&] {
    auto dir = temp_dir("report-blank-" + page.parent_path().filename().string());
    write_file(dir / "blank.html", "<!DOCTYPE html><html><body><p>blank</p></body></html>");
    return screenshot(dir / "blank.html", dir / "blank.png");
  }();
  Png shot = screenshot(page, page.parent_path() / "report.png");
  CHECK(shot.width == 1200);
  CHECK(shot.height == 3000);
  CHECK(blank.bytes > 0);
  CHECK(shot.bytes > 4 * blank.bytes);  // charts, tables and text, not an empty page
}

}  // namespace

TEST_CASE("the HTML report of a run is self-contained and renders in headless Chromium without errors") {
  auto dir = temp_dir("report-run");
  REQUIRE(run_binary("run scenarios/quickstart.json -q --out " + dir.string()).exit_code == 0);
  auto r = run_binary("report " + dir.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto page = dir / "report.html";
  std::string html = read_file(page);
  // Self-contained: no script, style or image loaded from anywhere.
  CHECK_FALSE(std::regex_search(html, std::regex("<(script|img|iframe)[^>]*\\ssrc=")));
  CHECK_FALSE(std::regex_search(html, std::regex("<link[^>]*href=")));
  CHECK_THAT(html, Catch::Contains("Chart.js v"));
  // Two CDFs, two charts over time, three pool charts, two cost charts, the latency breakdown.
  check_in_browser(page, 10);

  // The error check has teeth: the same page with its results removed throws while drawing, and both the page's
  // own marker and Chromium's console log say so.
  std::string broken = html;
  auto at = broken.find("\"results\":{");
  REQUIRE(at != std::string::npos);
  broken.replace(at, 11, "\"results\":null,\"was\":{");
  write_file(dir / "broken.html", broken);
  auto b = render(dir / "broken.html");
  std::smatch root;
  REQUIRE(std::regex_search(b.dom, root, std::regex("<html[^>]*>")));
  CHECK_THAT(root.str(), Catch::Contains("data-tf-errors=\"") && Catch::Contains("TypeError"));
  CHECK_THAT(root.str(), !Catch::Contains("data-tf-status=\"rendered\""));
  CHECK_THAT(b.console_log, Catch::Contains(":CONSOLE") && Catch::Contains("Uncaught TypeError"));
}

TEST_CASE("the HTML report of a sweep marks the Pareto front and renders in headless Chromium") {
  auto dir = temp_dir("report-sweep");
  auto s = run_binary("sweep scenarios/quickstart.json -q --jobs 2 --out " + dir.string() +
                      " --grid cluster.pools.0.count=2,4,8 --grid cluster.router.kind=round-robin,least-outstanding"
                      " --set workload.traces.0.max_requests=500 --set workload.rate_scale=16");
  INFO(s.output);
  REQUIRE(s.exit_code == 0);
  auto r = run_binary("report --points " + dir.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("wrote report.html into 6 point directories"));
  std::string html = read_file(dir / "report.html");
  CHECK_THAT(html, Catch::Contains("\"pareto\":["));
  CHECK_THAT(html, Catch::Contains("\"link\":\"point-0000/report.html\""));
  // The Pareto chart, then one chart per swept parameter (a numeric one and a categorical one).
  check_in_browser(dir / "report.html", 3);
}

TEST_CASE("report rejects a directory that is neither a run nor a sweep") {
  auto dir = temp_dir("report-bad");
  auto r = run_binary("report " + dir.string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains(dir.string()) && Catch::Contains("neither a run"));
}
