#include "cli/child_process.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/error.hpp"

namespace fs = std::filesystem;

namespace tf::cli {

namespace {

volatile std::sig_atomic_t g_stop = 0;  // set by SIGINT/SIGTERM while children run

extern "C" void on_stop_signal(int) {
  g_stop = 1;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Installs the stop handler for the lifetime of one run_children() call and restores the previous ones.
class StopSignals {
 public:
  StopSignals() {
    g_stop = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

pid_t start_child(const fs::path& program, const ChildJob& job, pid_t parent) {
  std::error_code ec;
  if (job.log.has_parent_path()) fs::create_directories(job.log.parent_path(), ec);
  std::vector<std::string> args;
  args.push_back(program.string());
  args.insert(args.end(), job.args.begin(), job.args.end());
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log = job.log.string();

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    // In the child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(125);  // the parent died before prctl took effect
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0) dup2(in, 0);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    execv(argv[0], argv.data());
    const char msg[] = "tokenfactory: internal error: cannot start child process\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
  }
  return pid;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

fs::path self_executable() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find the running executable: /proc/self/exe: " + ec.message());
  return p;
}

int default_jobs() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ChildRun run_children(const fs::path& program, const std::vector<ChildJob>& jobs, int parallel,
                      const std::function<void(size_t, const ChildResult&)>& on_done,
                      const std::function<void(const ChildProgress&)>& on_tick) {
  TF_ASSERT(parallel >= 1, "at least one job at a time");
  ChildRun run;
  run.results.resize(jobs.size());
  StopSignals signals;
  struct Running {
    pid_t pid;
    size_t index;
    double start;
  };
  std::vector<Running> running;
  ChildProgress progress;
  progress.total = jobs.size();
  size_t next = 0;
  pid_t self = getpid();
  auto tick = [&] {
    progress.running = running.size();
    if (on_tick) on_tick(progress);
  };
  while (next < jobs.size() || !running.empty()) {
    if (g_stop) {
      run.interrupted = true;
      for (const auto& r : running)
        kill(r.pid, SIGTERM);
      for (const auto& r : running) {
        int status = 0;
        while (waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {
        }
      }
      running.clear();
      break;
    }
    bool changed = false;
    while (next < jobs.size() && running.size() < static_cast<size_t>(parallel)) {
      running.push_back({start_child(program, jobs[next], self), next, now_s()});
      ++next;
      changed = true;
    }
    for (size_t k = 0; k < running.size();) {
      int status = 0;
      pid_t got = waitpid(running[k].pid, &status, WNOHANG);
      if (got == running[k].pid) {
        ChildResult& res = run.results[running[k].index];
        res.ran = true;
        res.exit_code = exit_code_of(status);
        res.seconds = now_s() - running[k].start;
        ++progress.done;
        if (res.exit_code != 0) ++progress.failed;
        size_t index = running[k].index;
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
        progress.running = running.size();
        if (on_done) on_done(index, res);
        changed = true;
      } else {
        ++k;
      }
    }
    tick();
    if (!changed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  tick();
  return run;
}

ProgressBar::ProgressBar(std::string what, size_t total, size_t skipped)
    : what_(std::move(what)), total_(total), skipped_(skipped), enabled_(isatty(STDERR_FILENO)), start_(now_s()) {}

namespace {
std::string clock_text(double s) {
  if (!(s >= 0) || s > 360000) return "--:--";
  auto t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
  return fmt::format("{}:{:02}", t / 60, t % 60);
}
}  // namespace

void ProgressBar::update(const ChildProgress& p) {
  if (!enabled_) return;
  double t = now_s();
  bool finished_all = p.done == p.total;
  if (!finished_all && last_draw_ >= 0 && t - last_draw_ < 0.1) return;
  last_draw_ = t;
  double elapsed = t - start_;
  size_t done = skipped_ + p.done;
  size_t remaining = total_ > done ? total_ - done : 0;
  // ETA from this invocation's pace: finished children per second of wall time.
  std::string eta = p.done > 0 ? clock_text(elapsed / static_cast<double>(p.done) * static_cast<double>(remaining))
                               : std::string("--:--");
  constexpr int kWidth = 28;
  int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::string failed = p.failed > 0 ? fmt::format(", {} failed", p.failed) : std::string();
  std::fprintf(stderr, "\r  [%s] %zu/%zu %s, %zu running%s, %s elapsed, ETA %s\x1b[K", bar.c_str(), done, total_,
               what_.c_str(), p.running, failed.c_str(), clock_text(elapsed).c_str(), eta.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (drawn_) std::fputs("\n", stderr);
  drawn_ = false;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") ==
                        std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace tf::cli
