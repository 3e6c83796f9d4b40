#pragma once
// Running simulations as child processes (DESIGN.md §4: one simulation per process). `sweep` and `check` start
// this same binary once per run, at most N at a time, with each child's output in a log file. SIGINT and SIGTERM
// stop the children and return, so that the caller can report what finished; a child also dies with its parent
// (PR_SET_PDEATHSIG), so no run keeps writing into a directory the next invocation resumes.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace tf::cli {

struct ChildJob {
  std::vector<std::string> args;  // arguments after the program name, e.g. {"run", "x.json", "--out", "d"}
  std::filesystem::path log;      // the child's stdout and stderr; its directory is created
};

struct ChildResult {
  bool ran = false;    // started and waited for (false: not started, or stopped by an interruption)
  int exit_code = -1;  // 128 + signal number when killed by a signal
  double seconds = 0;  // wall time
};

struct ChildProgress {
  size_t total = 0;   // jobs given
  size_t done = 0;    // finished (any exit code)
  size_t failed = 0;  // of which with a non-zero exit code
  size_t running = 0;
};

struct ChildRun {
  std::vector<ChildResult> results;  // by job index
  bool interrupted = false;          // SIGINT or SIGTERM arrived; running children were terminated
};

// The running binary (/proc/self/exe resolved), for starting children.
std::filesystem::path self_executable();

// Cores of this machine (at least 1): the default for --jobs.
int default_jobs();

// Runs `jobs` as children of `program`, at most `parallel` at once, in order of index. `on_done` is called as
// each finishes; `on_tick` about ten times a second and at every change (for progress displays).
ChildRun run_children(const std::filesystem::path& program, const std::vector<ChildJob>& jobs, int parallel,
                      const std::function<void(size_t, const ChildResult&)>& on_done,
                      const std::function<void(const ChildProgress&)>& on_tick);

// A progress bar with an ETA on stderr, drawn only when stderr is a terminal.
class ProgressBar {
 public:
  // `total` units of work, of which `skipped` were already done before this invocation (they count as done but
  // not in the ETA, which uses the pace of this invocation).
  ProgressBar(std::string what, size_t total, size_t skipped);
  void update(const ChildProgress& p);
  void finish();
  bool enabled() const { return enabled_; }

 private:
  std::string what_;
  size_t total_, skipped_;
  bool enabled_;
  bool drawn_ = false;
  double start_;
  double last_draw_ = -1;
};

// Quotes `s` for a POSIX shell (single quotes).
std::string shell_quote(const std::string& s);

}  // namespace tf::cli
