#include "engine/simulation.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <xbt/log.h>
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "core/error.hpp"
#include "engine/failures.hpp"
#include "engine/platform.hpp"

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
    build_failures();
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
    if (failures_) arm_failure_timer();
    engine.run();

    TF_ASSERT(transfers_.empty(), "a KV transfer never completed");
    TF_ASSERT(messages_.empty(), "a request never reached its instance");
    TF_ASSERT(responses_.empty(), "a first token never reached the gateway");
    TF_ASSERT(fetches_.empty() && tier_waits_ == 0, "a prefix fetch never completed");
    out_.simulated = Seconds(sg4::Engine::get_clock());
    out_.timeseries = series->finish(out_.simulated);  // timeseries
    for (size_t i = 0; i < instances_.size(); ++i) {
      out_.instances.push_back(instances_[i].usage());
      if (failures_) add_usage(out_.instances.back(), retired_[i]);
    }
    if (failures_) {
      out_.failures = failures_->stats(out_.simulated.value());
      out_.requests_retried = retried_;
      for (const auto& parked : parked_)
        TF_ASSERT(parked.empty(), "a retried request never found a live instance");
    }
    return std::move(out_);
  }

  // ClusterView
  const serving::Instance& instance(uint32_t id) const override { return instances_[id]; }
  Seconds now() const override { return Seconds(sg4::Engine::get_clock()); }

  // RequestSink: records into the log and lets go of the request's prefix hashes once it is done.
  // On a clos or rail fabric the first token travels back to the gateway as a flow, and the request's first-token
  // and finish times are the ones the gateway sees: the finish is taken to need the same trip as the first token
  // (later tokens are not flows: one per token would be millions of flows for microseconds each).
  void first_token(uint64_t r, uint32_t i, Seconds t) override {
    if (!frontend_) {
      out_.log.first_token(r, i, t);
      return;
    }
    Response m;
    m.request = r;
    m.from = i;
    m.produced = t.value();
    m.attempt = out_.log.retries(r);
    Responding& state = responding_[r];
    state = Responding();
    state.attempt = m.attempt;
    start_flow(responses_, std::move(m), hosts_[i], frontend_, Bytes(kResponseBytes));
  }
  void finished(uint64_t r, uint32_t i, Seconds t, Gaps g) override {
    in_flight_.erase(r);
    if (auto it = responding_.find(r); it != responding_.end()) {
      if (!it->second.delivered) {
        it->second.finish = Finish{i, t, g};  // logged when the first token reaches the gateway
        return;
      }
      t += Seconds(it->second.delay);
      responding_.erase(it);
    }
    out_.log.finished(r, i, t, g);
  }
  void rejected(uint64_t r, Seconds t) override {
    out_.log.rejected(r, t);
    in_flight_.erase(r);
  }
  void prefill_phases(uint64_t r, Phases p) override { out_.log.prefill_phases(r, p); }
  void decode_phases(uint64_t r, Phases p) override { out_.log.decode_phases(r, p); }

  // A cluster-scope prefix fetch on a clos or rail fabric: a flow from the store, at the top plane, to the
  // instance. The instance holds the sequence until it completes, and no sooner than its tiers could read the
  // bytes (rate_cap): SimGrid 3.32 ignores Comm::set_rate() on host-to-host comms (it starts them without
  // the rate, measured), so the tier bandwidth is a floor on the fetch's time rather than a cap on its share of
  // the fabric. A fetch slower at its tier than on the wire thus loads the spine for a shorter, denser burst.
  void fetch(uint32_t instance, uint64_t request, Bytes bytes, BytesPerSecond rate_cap) override {
    Fetch f;
    f.request = request;
    f.to = instance;
    f.start = sg4::Engine::get_clock();
    f.ready = rate_cap.value() > 0 ? f.start + (bytes / rate_cap).value() : f.start;
    f.epoch = failures_ ? epoch_[instance] : 0;
    f.bytes = bytes;
    start_flow(fetches_, std::move(f), store_, hosts_[instance], bytes);
  }

 private:
  struct Transfer {
    serving::SeqRequest request;
    uint32_t from = 0;
    uint32_t to = 0;
    double start = 0;
    Bytes bytes;
    uint32_t from_epoch = 0, to_epoch = 0;  // the incarnations it left and goes to (failures)
    sg4::CommPtr comm;                      // kept alive until it completes
  };
  struct Response {  // a first token on its way to the gateway (clos or rail fabrics)
    uint64_t request = 0;
    uint32_t from = 0;
    double produced = 0;
    int attempt = 0;  // the request's retries when it was produced (failures)
    sg4::CommPtr comm;
  };
  struct Message {  // a request on its way from the gateway (clos or rail fabrics)
    serving::SeqRequest request;
    uint32_t to = 0;
    double start = 0;
    uint32_t epoch = 0;  // the incarnation of `to` it was sent to (failures)
    Bytes bytes;
    sg4::CommPtr comm;
  };
  struct Fetch {  // prefix blocks on their way from the store (a cluster-scope cache on a clos or rail fabric)
    uint64_t request = 0;
    uint32_t to = 0;
    double start = 0;
    double ready = 0;    // the earliest it can be done: start + bytes at the rate its tiers read them
    uint32_t epoch = 0;  // the incarnation of `to` that asked (failures)
    Bytes bytes;
    sg4::CommPtr comm;
  };

  void build_platform() {
    if (plan_.fabric) {
      // A clos or rail fabric (docs/topologies.md): one host per instance, on its accelerators' leaf group.
      std::vector<Endpoint> endpoints;
      endpoints.reserve(plan_.instances);
      for (const auto& pool : plan_.pools)
        for (int64_t k = 0; k < pool.instances; ++k)
          endpoints.push_back({fmt::format("{}-{}", pool.config->name, k),
                               plan_.instance_accelerators[pool.first_instance + static_cast<size_t>(k)]});
      Platform platform = lower(*plan_.fabric, endpoints);
      hosts_ = std::move(platform.hosts);
      frontend_ = platform.frontend;
      store_ = platform.store;
      return;
    }
    // The ideal fabric: one star zone. Instances compute through timers set from the perf model; a host is
    // the endpoint of an instance's network traffic, and its link stands for its accelerators' NICs. Only
    // disaggregated pools send anything over an ideal fabric (KV hand-offs), so colocated instances get no host
    // at all: at 100,000 accelerators the hosts, their links and their teardown were a large share of start-up.
    hosts_.assign(plan_.instances, nullptr);
    auto* zone = sg4::create_star_zone("factory");
    for (const auto& pool : plan_.pools)
      for (int64_t k = 0; k < pool.instances; ++k) {
        if (pool.role == serving::Role::colocated) continue;
        std::string name = fmt::format("{}-{}", pool.config->name, k);
        auto* host = zone->create_host(name, 1.0);
        host->seal();
        hosts_[pool.first_instance + static_cast<size_t>(k)] = host;
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
            // On a clos or rail fabric the copies are flows from the store, sharing the spine with hand-offs.
            use.fetch_flows = plan_.fabric != nullptr;
          } else {
            use.cache = caches_.emplace_back(std::make_unique<serving::PrefixCache>(pool.cache_tiers)).get();
          }
          use.network = pool.network;
          use.block_bytes = pool.kv_bytes_per_token * 512.0;
        }
        const perf::PerfModel& perf = pool.perf_of(k);
        instances_.emplace_back(pool.first_instance + static_cast<uint32_t>(k), pool.role, perf, pool.scheduler,
                                pool.kv_capacity_tokens, scenario_.engine.leap, *this, use, &memo(perf));
        cache_use_.push_back(use);
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
    out_.log.arrived(r.id, r.arrival, r.input_tokens, r.output_tokens, r.class_id);
    admit(std::move(owned));
    progress();
    schedule_next_arrival();
    stop_failures_when_idle();
  }

  // Routes a request that arrived now or is retried after a failure; admits or rejects it.
  void admit(std::unique_ptr<workload::Request> owned) {
    const workload::Request& r = *owned;
    Seconds now_s = now();
    uint32_t group = plan_.class_group[r.class_id];
    if (failures_ && live_entry_[group] == 0) {
      parked_[group].push_back(std::move(owned));  // every instance of the model is down: wait for a repair
      return;
    }
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
      in_flight_.emplace(r.id, Live{std::move(owned), target});
      if (frontend_) {
        send_request(target, seq);
        return;
      }
      rearm(target, inst.on_arrival(seq, now_s));
      router_->load_changed(target);
    }
  }

  // On a clos or rail fabric the request travels from the gateway to its instance as a flow: its prompt, at
  // kRequestBytesPerToken, plus a header. It reaches the instance when the flow completes.
  static constexpr double kRequestBytesPerToken = 4;  // token ids as 32-bit integers
  static constexpr double kRequestHeaderBytes = 1024;

  void send_request(uint32_t target, const serving::SeqRequest& seq) {
    Message m;
    m.request = seq;
    m.to = target;
    m.start = sg4::Engine::get_clock();
    m.epoch = failures_ ? epoch_[target] : 0;
    m.bytes = Bytes(kRequestHeaderBytes + kRequestBytesPerToken * static_cast<double>(seq.input_tokens));
    Bytes bytes = m.bytes;
    start_flow(messages_, std::move(m), frontend_, hosts_[target], bytes);
  }

  static constexpr double kResponseBytes = 1024;  // the first token with its headers

  void on_response_delivered(Response m) {
    ++out_.events;
    double now_v = sg4::Engine::get_clock();
    double delay = now_v - m.produced;
    out_.responses.add(Bytes(kResponseBytes), Seconds(delay));
    auto it = responding_.find(m.request);
    // The request was retried after this token left (its instance failed): the new attempt answers instead.
    if (it == responding_.end() || it->second.attempt != m.attempt || out_.log.retries(m.request) != m.attempt) return;
    out_.log.first_token(m.request, m.from, Seconds(now_v));
    out_.log.add_network(m.request, Seconds(delay));
    if (it->second.finish) {
      const Finish& f = *it->second.finish;
      out_.log.finished(m.request, f.instance, f.time + Seconds(delay), f.gaps);
      responding_.erase(it);
    } else {
      it->second.delivered = true;
      it->second.delay = delay;
    }
  }

  void on_request_delivered(Message m) {
    ++out_.events;
    double now_v = sg4::Engine::get_clock();
    out_.log.add_network(m.request.id, Seconds(now_v - m.start));
    out_.request_messages.add(m.bytes, Seconds(now_v - m.start));
    // The instance failed while the request was on its way: kill() has retried it already.
    if (failures_ && m.epoch != epoch_[m.to]) return;
    rearm(m.to, instances_[m.to].on_arrival(m.request, now()));
    router_->load_changed(m.to);
    progress();
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
    stop_failures_when_idle();
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

  // Starts a flow of `bytes` from `from` to `to` and files `item` (which keeps the comm alive) under it in
  // `flows`, where on_transfer_done() finds it on completion.
  template <class Item>
  void start_flow(std::unordered_map<const sg4::Activity*, Item>& flows, Item item, sg4::Host* from, sg4::Host* to,
                  Bytes bytes) {
    item.comm = sg4::Comm::sendto_init(from, to);
    item.comm->set_payload_size(static_cast<uint64_t>(bytes.value()));
    const sg4::Activity* key = item.comm.get();
    flows.emplace(key, std::move(item)).first->second.comm->start();
  }

  void start_transfer(uint32_t from, const serving::Instance::Handoff& h) {
    const PoolPlan& pool = *pool_of_[from];
    uint32_t group = pool.model_group;
    if (failures_ && live_decode_[group] == 0) {
      parked_handoffs_.push_back({from, h});  // the prefill instance keeps the KV until a decoder is back
      return;
    }
    uint32_t to = decode_router_->pick(group, {h.request.input_tokens, h.request.prefix_blocks});
    // The router ranks by load; skip to a decode instance that can hold the request if it chose one that cannot.
    if (!instances_[to].can_ever_fit(h.request.input_tokens, h.request.output_tokens))
      for (uint32_t d : plan_.decode_instances[group])
        if (!is_down(d) && instances_[d].can_ever_fit(h.request.input_tokens, h.request.output_tokens)) {
          to = d;
          break;
        }
    Transfer t;
    t.request = h.request;
    t.from = from;
    t.to = to;
    t.start = sg4::Engine::get_clock();
    t.bytes = pool.kv_bytes_per_token * static_cast<double>(h.kv_tokens);
    if (failures_) {
      t.from_epoch = epoch_[from];
      t.to_epoch = epoch_[to];
    }
    Bytes bytes = t.bytes;
    start_flow(transfers_, std::move(t), hosts_[from], hosts_[to], bytes);
  }

  // The flow arrived; the fetch is done then, or when its tiers could have delivered it if that is later.
  void on_fetch_arrived(Fetch f) {
    if (sg4::Engine::get_clock() >= f.ready) {
      on_fetch_done(f);
      return;
    }
    ++tier_waits_;
    f.comm = nullptr;
    Timer::set(f.ready, [this, f] {
      --tier_waits_;
      on_fetch_done(f);
    });
  }

  void on_fetch_done(const Fetch& f) {
    ++out_.events;
    double now_v = sg4::Engine::get_clock();
    out_.prefix_fetches.add(f.bytes, Seconds(now_v - f.start));
    // The instance failed while the blocks were on their way: kill() has retried the request already, and the
    // time belongs to no phase of the retried request.
    if (failures_ && f.epoch != epoch_[f.to]) return;
    out_.log.kv_transfer(f.request, Seconds(f.start), Seconds(now_v));
    rearm(f.to, instances_[f.to].on_fetched(f.request, now()));
    after_change(f.to);
    progress();
    stop_failures_when_idle();
  }

  void on_transfer_done(const sg4::Activity& a) {
    if (auto m = responses_.find(&a); m != responses_.end()) {
      Response response = std::move(m->second);
      responses_.erase(m);
      on_response_delivered(std::move(response));
      return;
    }
    if (auto m = messages_.find(&a); m != messages_.end()) {
      Message message = std::move(m->second);
      messages_.erase(m);
      on_request_delivered(std::move(message));
      return;
    }
    if (auto f = fetches_.find(&a); f != fetches_.end()) {
      Fetch fetch = std::move(f->second);
      fetches_.erase(f);
      on_fetch_arrived(std::move(fetch));
      return;
    }
    auto it = transfers_.find(&a);
    if (it == transfers_.end()) return;
    ++out_.events;
    Transfer t = std::move(it->second);
    transfers_.erase(it);
    double now_v = sg4::Engine::get_clock();
    out_.kv_transfers.add(t.bytes, Seconds(now_v - t.start));
    out_.log.kv_transfer(t.request.id, Seconds(t.start), Seconds(now_v));
    // A failure may have struck either end while the KV was in flight (failures_ only).
    const bool to_alive = !failures_ || t.to_epoch == epoch_[t.to];
    const bool from_alive = !failures_ || t.from_epoch == epoch_[t.from];
    if (to_alive) {
      in_flight_.at(t.request.id).instance = t.to;
      rearm(t.to, instances_[t.to].on_handoff(t.request, now()));
      after_change(t.to);
    }
    if (from_alive) {
      rearm(t.from, instances_[t.from].on_released(t.request.id, now()));
      after_change(t.from);
    }
    if (!to_alive) {
      auto live = in_flight_.find(t.request.id);
      std::unique_ptr<workload::Request> r = std::move(live->second.request);
      in_flight_.erase(live);
      retry(std::move(r));
    }
    stop_failures_when_idle();
  }

  // ---- failures (docs/failures.md) ----

  bool is_down(uint32_t id) const { return failures_ && failures_->down(id); }

  void build_failures() {
    if (!scenario_.failures.enabled && scenario_.failures.scripted.empty()) return;
    std::vector<FailurePool> pools;
    for (const auto& p : plan_.pools)
      pools.push_back({p.config->name, p.config->accelerator, p.instances, p.accelerators_per_instance,
                       p.accelerator->scale_up_domain_size, p.config->spares, p.first_instance});
    failures_ = std::make_unique<FailureProcess>(scenario_.failures, scenario_.seed, std::move(pools));
    epoch_.assign(instances_.size(), 0);
    retired_.assign(instances_.size(), {});
    parked_.resize(plan_.model_groups.size());
    count_live();
  }

  void count_live() {
    live_entry_.assign(plan_.model_groups.size(), 0);
    live_decode_.assign(plan_.model_groups.size(), 0);
    for (size_t g = 0; g < plan_.model_groups.size(); ++g) {
      for (uint32_t i : plan_.group_instances[g])
        live_entry_[g] += is_down(i) ? 0 : 1;
      for (uint32_t i : plan_.decode_instances[g])
        live_decode_[g] += is_down(i) ? 0 : 1;
    }
  }

  // Work remains while arrivals are to come or requests are in the system.
  bool has_work() const {
    if (pending_ || !in_flight_.empty() || !parked_handoffs_.empty()) return true;
    for (const auto& p : parked_)
      if (!p.empty()) return true;
    return false;
  }

  void arm_failure_timer() {
    double at = failures_->next_time();
    if (at == FailureProcess::kNever || !has_work()) return;
    failure_timer_ = Timer::set(std::max(at, sg4::Engine::get_clock()), [this] { on_failure_event(); });
  }

  // Failures stop with the workload, so that a failure far in the future does not stretch the run.
  void stop_failures_when_idle() {
    if (!failure_timer_ || has_work()) return;
    failure_timer_->remove();
    failure_timer_ = nullptr;
  }

  void on_failure_event() {
    failure_timer_ = nullptr;
    ++out_.events;
    std::vector<std::unique_ptr<workload::Request>> orphans;
    for (const auto& change : failures_->advance())
      if (!change.up) kill(change.instance, orphans);
    count_live();
    // Routers are rebuilt over the instances that are up (failures are rare; a rebuild is O(instances)).
    auto live = [this](const std::vector<std::vector<uint32_t>>& groups) {
      std::vector<std::vector<uint32_t>> out(groups.size());
      for (size_t g = 0; g < groups.size(); ++g)
        for (uint32_t i : groups[g])
          if (!is_down(i)) out[g].push_back(i);
      return out;
    };
    router_ = plan_.router->make(live(plan_.group_instances), *this, plan_.router_params);
    decode_router_ = plan_.decode_router->make(live(plan_.decode_instances), *this, plan_.decode_router_params);
    for (auto& r : orphans)
      retry(std::move(r));
    for (size_t g = 0; g < parked_.size(); ++g)
      if (live_entry_[g] > 0 && !parked_[g].empty()) {
        auto waiting = std::move(parked_[g]);
        parked_[g].clear();
        for (auto& r : waiting)
          admit(std::move(r));
      }
    if (!parked_handoffs_.empty()) {
      auto waiting = std::move(parked_handoffs_);
      parked_handoffs_.clear();
      for (const auto& h : waiting)
        start_transfer(h.from, h.handoff);
    }
    arm_failure_timer();
  }

  // Instance `id` failed: its timer stops, its requests become orphans to retry, and a fresh incarnation (empty
  // batch, empty KV and per-instance prefix cache) takes its place, out of the routers until it is repaired.
  void kill(uint32_t id, std::vector<std::unique_ptr<workload::Request>>& orphans) {
    ++epoch_[id];
    if (timers_[id]) {
      timers_[id]->remove();
      timers_[id] = nullptr;
    }
    add_usage(retired_[id], instances_[id].usage());
    // KV already on the wire to a decode instance arrives there; every other request held here restarts.
    std::vector<uint64_t> leaving;
    for (const auto& [key, t] : transfers_)
      if (t.from == id) leaving.push_back(t.request.id);
    std::vector<uint64_t> ids;
    for (const auto& [rid, live] : in_flight_)
      if (live.instance == id && std::find(leaving.begin(), leaving.end(), rid) == leaving.end()) ids.push_back(rid);
    std::sort(ids.begin(), ids.end());  // retry in id order: deterministic
    for (uint64_t rid : ids) {
      auto it = in_flight_.find(rid);
      orphans.push_back(std::move(it->second.request));
      in_flight_.erase(it);
    }
    std::erase_if(parked_handoffs_, [id](const ParkedHandoff& h) { return h.from == id; });
    serving::PrefixCacheUse use = cache_use_[id];
    if (use.cache && !use.remote) {
      caches_.push_back(std::make_unique<serving::PrefixCache>(pool_of_[id]->cache_tiers));
      use.cache = caches_.back().get();
      cache_use_[id] = use;
    }
    const PoolPlan& pool = *pool_of_[id];
    const perf::PerfModel& perf = pool.perf_of(id - pool.first_instance);
    std::destroy_at(&instances_[id]);
    std::construct_at(&instances_[id], id, pool.role, perf, pool.scheduler, pool.kv_capacity_tokens,
                      scenario_.engine.leap, static_cast<serving::RequestSink&>(*this), use, &memo(perf));
  }

  // A request whose instance failed starts over: its arrival time stands, so the wait counts against its SLO.
  void retry(std::unique_ptr<workload::Request> r) {
    ++retried_;
    out_.log.retried(r->id);
    admit(std::move(r));
  }

  static void add_usage(serving::InstanceUsage& into, const serving::InstanceUsage& u) {
    into.busy += u.busy;
    into.prefill_busy += u.prefill_busy;
    into.iterations += u.iterations;
    into.prefill_tokens += u.prefill_tokens;
    into.decode_tokens += u.decode_tokens;
    into.preemptions += u.preemptions;
    into.swapped += u.swapped;
    into.cached_tokens += u.cached_tokens;
    into.prefix_lookup_blocks += u.prefix_lookup_blocks;
    if (into.prefix_hit_blocks.size() < u.prefix_hit_blocks.size())
      into.prefix_hit_blocks.resize(u.prefix_hit_blocks.size());
    for (size_t k = 0; k < u.prefix_hit_blocks.size(); ++k)
      into.prefix_hit_blocks[k] += u.prefix_hit_blocks[k];
  }

  // One memo per perf model, shared by the instances that use it (serving/instance.hpp).
  serving::PerfMemo& memo(const perf::PerfModel& perf) {
    auto& m = memos_[&perf];
    if (!m) m = std::make_unique<serving::PerfMemo>(perf);
    return *m;
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
  std::vector<sg4::Host*> hosts_;  // by instance id
  sg4::Host* frontend_ = nullptr;  // a clos or rail fabric's user gateway: requests are flows from it
  sg4::Host* store_ = nullptr;     // a clos or rail fabric's prefix store: remote prefix fetches come from it
  std::map<const perf::PerfModel*, std::unique_ptr<serving::PerfMemo>> memos_;
  std::vector<const PoolPlan*> pool_of_;  // by instance id
  std::vector<std::unique_ptr<serving::PrefixCache>> caches_;
  std::vector<serving::Instance> instances_;
  std::vector<Timer*> timers_;
  std::unique_ptr<serving::Router> router_;
  std::unique_ptr<serving::Router> decode_router_;
  std::unique_ptr<workload::Request> pending_;
  // Requests routed and not done: each owns its prefix hashes, and records the instance that holds it now.
  struct Live {
    std::unique_ptr<workload::Request> request;
    uint32_t instance = 0;
  };
  std::unordered_map<uint64_t, Live> in_flight_;
  std::unordered_map<const sg4::Activity*, Transfer> transfers_;
  std::unordered_map<const sg4::Activity*, Message> messages_;
  std::unordered_map<const sg4::Activity*, Response> responses_;
  struct Finish {
    uint32_t instance = 0;
    Seconds time;
    Gaps gaps;
  };
  struct Responding {  // a request whose first token left its instance: on its way, or arrived (and its delay)
    int attempt = 0;
    bool delivered = false;
    double delay = 0;
    std::optional<Finish> finish;  // finished before its first token arrived: logged when it does
  };
  std::unordered_map<uint64_t, Responding> responding_;
  std::unordered_map<const sg4::Activity*, Fetch> fetches_;
  int64_t tier_waits_ = 0;  // fetches whose flow arrived before their tiers could deliver (on a timer)

  // Failures (docs/failures.md); all empty when the scenario has none.
  std::unique_ptr<FailureProcess> failures_;
  Timer* failure_timer_ = nullptr;
  std::vector<uint32_t> epoch_;                     // per instance: incarnation, bumped at each failure
  std::vector<serving::PrefixCacheUse> cache_use_;  // per instance, to rebuild it after a failure
  std::vector<serving::InstanceUsage> retired_;     // per instance: what its failed incarnations did
  std::vector<uint32_t> live_entry_, live_decode_;  // per model group: instances up
  std::vector<std::vector<std::unique_ptr<workload::Request>>> parked_;  // per group: waiting for a live instance
  struct ParkedHandoff {
    uint32_t from = 0;
    serving::Instance::Handoff handoff;
  };
  std::vector<ParkedHandoff> parked_handoffs_;  // prefilled, waiting for a live decode instance
  int64_t retried_ = 0;
};

}  // namespace

RunOutput simulate(const config::Scenario& scenario, const FactoryPlan& plan, workload::Workload& workload,
                   const RunOptions& options) {
  Simulation sim(scenario, plan, workload, options);
  return sim.run();
}

}  // namespace tf::engine
