#include "engine/simulation.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <xbt/log.h>
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <unordered_map>

#include "core/error.hpp"

namespace tf::engine {

namespace sg4 = simgrid::s4u;
using simgrid::kernel::timer::Timer;

namespace {

class Simulation final : public serving::ClusterView, public serving::RequestSink {
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
    build_instances();
    sg4::Activity::on_completion_cb([this](const sg4::Activity& a) { on_transfer_done(a); });

    // timeseries: samples the pools at every interval boundary the clock jumps over (metrics/timeseries.hpp).
    std::vector<metrics::PoolSpan> spans;  // timeseries
    for (const auto& p : plan_.pools)
      spans.push_back({p.first_instance, p.instances});  // timeseries
    auto series = std::make_shared<metrics::TimeSeriesRecorder>(scenario_.metrics.timeseries_interval, spans,
                                                                instances_);        // timeseries
    sg4::Engine::on_time_advance_cb(                                                // timeseries
        [series](double) { series->advance(Seconds(sg4::Engine::get_clock())); });  // timeseries
    schedule_next_arrival();
    engine.run();

    TF_ASSERT(transfers_.empty(), "a KV transfer never completed");
    out_.simulated = Seconds(sg4::Engine::get_clock());
    out_.timeseries = series->finish(out_.simulated);  // timeseries
    for (const auto& inst : instances_)
      out_.instances.push_back(inst.usage());
    return std::move(out_);
  }

  // ClusterView
  const serving::Instance& instance(uint32_t id) const override { return instances_[id]; }
  Seconds now() const override { return Seconds(sg4::Engine::get_clock()); }

  // RequestSink: records into the log and lets go of the request's prefix hashes once it is done.
  void first_token(uint64_t r, uint32_t i, Seconds t) override { out_.log.first_token(r, i, t); }
  void finished(uint64_t r, uint32_t i, Seconds t, Gaps g) override {
    out_.log.finished(r, i, t, g);
    in_flight_.erase(r);
  }
  void rejected(uint64_t r, Seconds t) override {
    out_.log.rejected(r, t);
    in_flight_.erase(r);
  }

 private:
  struct Transfer {
    serving::SeqRequest request;
    uint32_t from = 0;
    uint32_t to = 0;
    double start = 0;
    Bytes bytes;
    sg4::CommPtr comm;  // kept alive until it completes
  };

  void build_platform() {
    auto* zone = sg4::create_star_zone("factory");
    for (const auto& pool : plan_.pools)
      for (int64_t k = 0; k < pool.instances; ++k) {
        std::string name = fmt::format("{}-{}", pool.config->name, k);
        // Instances compute through timers set from the perf model; the host is the endpoint of the
        // instance's network traffic, and its link stands for its accelerators' NICs.
        auto* host = zone->create_host(name, 1.0);
        host->seal();
        hosts_.push_back(host);
        // Only disaggregated pools send anything over the fabric yet; colocated ones need no link, and at
        // 100,000 accelerators the links are a large share of start-up.
        if (pool.role == serving::Role::colocated) continue;
        auto* link = zone->create_split_duplex_link(name + "-nic", pool.network.value())
                         ->set_latency(pool.network_latency.value())
                         ->seal();
        zone->add_route(host->get_netpoint(), nullptr, nullptr, nullptr, {{link, sg4::LinkInRoute::Direction::UP}},
                        true);
      }
    zone->seal();
  }

  void build_instances() {
    // Prefix caches: one per instance, or one per model for cluster scope.
    std::vector<serving::PrefixCache*> cluster_cache(plan_.model_groups.size(), nullptr);
    for (const auto& pool : plan_.pools) {
      pool_of_.insert(pool_of_.end(), static_cast<size_t>(pool.instances), &pool);
      for (int64_t k = 0; k < pool.instances; ++k) {
        serving::PrefixCacheUse use;
        if (!pool.cache_tiers.empty()) {
          if (pool.cache_cluster_scope) {
            auto& shared = cluster_cache[pool.model_group];
            if (!shared) shared = caches_.emplace_back(std::make_unique<serving::PrefixCache>(pool.cache_tiers)).get();
            use.cache = shared;
            use.remote = true;
          } else {
            use.cache = caches_.emplace_back(std::make_unique<serving::PrefixCache>(pool.cache_tiers)).get();
          }
          use.network = pool.network;
          use.block_bytes = pool.kv_bytes_per_token * 512.0;
        }
        instances_.emplace_back(pool.first_instance + static_cast<uint32_t>(k), pool.role, *pool.perf, pool.scheduler,
                                pool.kv_capacity_tokens, scenario_.engine.leap, *this, use);
      }
    }
    timers_.assign(instances_.size(), nullptr);
    router_ = plan_.router->make(plan_.group_instances, *this, plan_.router_params);
    decode_router_ = plan_.decode_router->make(plan_.decode_instances, *this, plan_.decode_router_params);
  }

  void schedule_next_arrival() {
    auto next = workload_.next();
    if (!next) return;
    pending_ = std::make_unique<workload::Request>(std::move(*next));
    double at = (pending_->arrival + scenario_.workload.client_latency).value();
    Timer::set(at, [this] { on_arrival(); });
  }

  void on_arrival() {
    ++out_.events;
    std::unique_ptr<workload::Request> owned = std::move(pending_);
    const workload::Request& r = *owned;
    Seconds now_s = now();
    out_.log.arrived(r.id, r.arrival, r.input_tokens, r.output_tokens, r.class_id);
    uint32_t group = plan_.class_group[r.class_id];
    const auto& cls = plan_.classes[r.class_id];
    const std::vector<uint64_t>* blocks = r.prefix_blocks.empty() ? nullptr : &r.prefix_blocks;
    uint32_t target = router_->pick(group, {r.input_tokens, blocks});
    auto& inst = instances_[target];
    if (!inst.can_ever_fit(r.input_tokens, r.output_tokens) || !decode_fits(group, r)) {
      ++out_.rejected_too_large;
      out_.log.rejected(r.id, now_s);
    } else if (plan_.admission_predicted_ttft && cls.slo.ttft &&
               predicted_ttft(inst, r, blocks, now_s) > cls.slo.ttft->value()) {
      ++out_.rejected_admission;
      out_.log.rejected(r.id, now_s);
    } else {
      out_.log.routed(r.id, target);
      serving::SeqRequest seq{r.id, r.input_tokens, r.output_tokens, cls.priority, blocks};
      in_flight_.emplace(r.id, std::move(owned));
      rearm(target, inst.on_arrival(seq, now_s));
      router_->load_changed(target);
    }
    progress();
    schedule_next_arrival();
  }

  // In a disaggregated model, some decode instance must be able to hold the whole request.
  bool decode_fits(uint32_t group, const workload::Request& r) const {
    const auto& decoders = plan_.decode_instances[group];
    if (decoders.empty()) return true;
    for (uint32_t d : decoders)
      if (instances_[d].can_ever_fit(r.input_tokens, r.output_tokens)) return true;
    return false;
  }

  // The user's view: network both ways, the prefill here, and a KV hand-off when disaggregated.
  double predicted_ttft(const serving::Instance& inst, const workload::Request& r, const std::vector<uint64_t>* blocks,
                        Seconds now_s) const {
    double t = 2 * scenario_.workload.client_latency.value() +
               inst.predicted_prefill_done(r.input_tokens, blocks, now_s).value();
    const PoolPlan& pool = *pool_of_[inst.id()];
    if (pool.role == serving::Role::prefill)
      t += (pool.kv_bytes_per_token * static_cast<double>(r.input_tokens) / pool.network).value() +
           2 * pool.network_latency.value();
    return t;
  }

  void on_wake(uint32_t id) {
    ++out_.events;
    timers_[id] = nullptr;
    auto& inst = instances_[id];
    rearm(id, inst.on_wake(now()));
    after_change(id);
    progress();
  }

  // After instance `id` changed: start its hand-offs and tell the routers.
  void after_change(uint32_t id) {
    auto& inst = instances_[id];
    if (inst.role() == serving::Role::prefill)
      for (auto& h : inst.take_handoffs())
        start_transfer(id, h);
    if (inst.role() == serving::Role::decode)
      decode_router_->load_changed(id);
    else
      router_->load_changed(id);
  }

  void start_transfer(uint32_t from, const serving::Instance::Handoff& h) {
    const PoolPlan& pool = *pool_of_[from];
    uint32_t group = pool.model_group;
    uint32_t to = decode_router_->pick(group, {h.request.input_tokens, h.request.prefix_blocks});
    // The router ranks by load; skip to a decode instance that can hold the request if it chose one that cannot.
    if (!instances_[to].can_ever_fit(h.request.input_tokens, h.request.output_tokens))
      for (uint32_t d : plan_.decode_instances[group])
        if (instances_[d].can_ever_fit(h.request.input_tokens, h.request.output_tokens)) {
          to = d;
          break;
        }
    Transfer t;
    t.request = h.request;
    t.from = from;
    t.to = to;
    t.start = sg4::Engine::get_clock();
    t.bytes = pool.kv_bytes_per_token * static_cast<double>(h.kv_tokens);
    t.comm = sg4::Comm::sendto_init(hosts_[from], hosts_[to]);
    t.comm->set_payload_size(static_cast<uint64_t>(t.bytes.value()));
    const sg4::Activity* key = t.comm.get();
    auto& stored = transfers_.emplace(key, std::move(t)).first->second;
    stored.comm->start();
  }

  void on_transfer_done(const sg4::Activity& a) {
    auto it = transfers_.find(&a);
    if (it == transfers_.end()) return;
    ++out_.events;
    Transfer t = std::move(it->second);
    transfers_.erase(it);
    double now_v = sg4::Engine::get_clock();
    auto& stats = out_.kv_transfers;
    ++stats.count;
    stats.bytes += t.bytes;
    stats.time += Seconds(now_v - t.start);
    stats.max = std::max(stats.max, Seconds(now_v - t.start));
    rearm(t.to, instances_[t.to].on_handoff(t.request, now()));
    after_change(t.to);
    rearm(t.from, instances_[t.from].on_released(t.request.id, now()));
    after_change(t.from);
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

  // Called at arrivals and wake-ups, so that a run that only drains (no more arrivals) still reports.
  void progress() {
    if (!options_.on_progress || (out_.events & 4095) != 0) return;
    options_.on_progress({now(), static_cast<int64_t>(out_.log.size()), out_.log.settled(), out_.events});
  }

  const config::Scenario& scenario_;
  const FactoryPlan& plan_;
  workload::Workload& workload_;
  RunOptions options_;
  RunOutput out_;
  std::vector<sg4::Host*> hosts_;         // by instance id
  std::vector<const PoolPlan*> pool_of_;  // by instance id
  std::vector<std::unique_ptr<serving::PrefixCache>> caches_;
  std::vector<serving::Instance> instances_;
  std::vector<Timer*> timers_;
  std::unique_ptr<serving::Router> router_;
  std::unique_ptr<serving::Router> decode_router_;
  std::unique_ptr<workload::Request> pending_;
  std::unordered_map<uint64_t, std::unique_ptr<workload::Request>> in_flight_;  // owns prefix hashes
  std::unordered_map<const sg4::Activity*, Transfer> transfers_;
};

}  // namespace

RunOutput simulate(const config::Scenario& scenario, const FactoryPlan& plan, workload::Workload& workload,
                   const RunOptions& options) {
  Simulation sim(scenario, plan, workload, options);
  return sim.run();
}

}  // namespace tf::engine
