#include "engine/simulation.hpp"

#include <fmt/format.h>
#include <xbt/log.h>
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u.hpp>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "core/error.hpp"

namespace tf::engine {

namespace sg4 = simgrid::s4u;
using simgrid::kernel::timer::Timer;

namespace {

class Simulation {
 public:
  Simulation(const config::Scenario& s, const FactoryPlan& plan, workload::Workload& w, const RunOptions& options)
      : scenario_(s), plan_(plan), workload_(w), options_(options) {}

  RunOutput run() {
    xbt_log_control_set("root.thres:critical");
    sg4::Engine engine("tokenfactory");
    // Datacentre settings (SIMGRID-NOTES.md): no TCP-over-WAN factors, no window cap, no cross-traffic.
    sg4::Engine::set_config("network/model:CM02");
    sg4::Engine::set_config("network/TCP-gamma:1e12");
    sg4::Engine::set_config("network/crosstraffic:0");
    build_platform();

    router_ = plan_.router->make(plan_.group_instances, plan_.instances);
    for (const auto& pool : plan_.pools)
      for (int64_t k = 0; k < pool.instances; ++k)
        instances_.emplace_back(pool.first_instance + static_cast<uint32_t>(k), *pool.perf, pool.scheduler,
                                pool.fit.kv_capacity_tokens, scenario_.engine.leap, out_.log);
    timers_.assign(instances_.size(), nullptr);
    wall_start_ = std::chrono::steady_clock::now();
    show_progress_ = options_.progress && isatty(STDERR_FILENO);

    schedule_next_arrival();
    engine.run();

    out_.simulated = Seconds(sg4::Engine::get_clock());
    for (const auto& inst : instances_)
      out_.instances.push_back(inst.usage());
    if (show_progress_) std::fputs("\n", stderr);
    return std::move(out_);
  }

 private:
  void build_platform() {
    auto* zone = sg4::create_star_zone("factory");
    for (const auto& pool : plan_.pools)
      for (int64_t k = 0; k < pool.instances; ++k) {
        // Instances compute through timers set from the perf model; the host exists so that network
        // transfers (KV hand-offs, client traffic) have endpoints.
        auto* host = zone->create_host(fmt::format("{}-{}", pool.config->name, k), 1.0);
        host->seal();
      }
    zone->seal();
  }

  void schedule_next_arrival() {
    pending_ = workload_.next();
    if (!pending_) return;
    double at = (pending_->arrival + scenario_.workload.client_latency).value();
    Timer::set(at, [this] { on_arrival(); });
  }

  void on_arrival() {
    ++out_.events;
    const workload::Request& r = *pending_;
    out_.log.arrived(r.id, r.arrival, r.input_tokens, r.output_tokens, r.class_id);
    uint32_t group = plan_.class_group[r.class_id];
    uint32_t target = router_->pick(group);
    auto& inst = instances_[target];
    if (!inst.can_ever_fit(r.input_tokens, r.output_tokens)) {
      ++out_.rejected_too_large;
      out_.log.rejected(r.id, Seconds(sg4::Engine::get_clock()));
    } else {
      out_.log.routed(r.id, target);
      serving::SeqRequest seq{r.id, r.input_tokens, r.output_tokens, plan_.classes[r.class_id].priority};
      rearm(target, inst.on_arrival(seq, Seconds(sg4::Engine::get_clock())));
      router_->load_changed(target, inst.outstanding());
    }
    progress();
    schedule_next_arrival();
  }

  void on_wake(uint32_t id) {
    ++out_.events;
    timers_[id] = nullptr;
    auto& inst = instances_[id];
    int64_t before = inst.outstanding();
    rearm(id, inst.on_wake(Seconds(sg4::Engine::get_clock())));
    if (inst.outstanding() != before) router_->load_changed(id, inst.outstanding());
  }

  // Keeps exactly one timer per busy instance, at the time the instance asked for.
  void rearm(uint32_t id, std::optional<Seconds> when) {
    Timer*& t = timers_[id];
    if (t && when && t->get_date() == when->value()) return;
    if (t) {
      t->remove();
      t = nullptr;
    }
    if (when) t = Timer::set(when->value(), [this, id] { on_wake(id); });
  }

  void progress() {
    if (!show_progress_ || (out_.log.size() & 1023) != 0) return;
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
    std::fprintf(stderr, "\r  simulated %.0fs, %zu requests arrived, %.0f req/s wall", sg4::Engine::get_clock(),
                 out_.log.size(), static_cast<double>(out_.log.size()) / std::max(wall, 1e-9));
  }

  const config::Scenario& scenario_;
  const FactoryPlan& plan_;
  workload::Workload& workload_;
  RunOptions options_;
  RunOutput out_;
  std::unique_ptr<serving::Router> router_;
  std::vector<serving::Instance> instances_;
  std::vector<Timer*> timers_;
  std::optional<workload::Request> pending_;
  std::chrono::steady_clock::time_point wall_start_;
  bool show_progress_ = false;
};

}  // namespace

RunOutput simulate(const config::Scenario& scenario, const FactoryPlan& plan, workload::Workload& workload,
                   const RunOptions& options) {
  Simulation sim(scenario, plan, workload, options);
  return sim.run();
}

}  // namespace tf::engine
