// A daemon as one member of a cluster (config `cluster.enabled`; README
// "Running a cluster"): on a thread of its own, every third of the lease TTL,
// it renews its heartbeat and leases (lib/state/cluster_store.h), claims its
// fair share of the tables no live member holds (the landing folders and
// every table a lease was ever taken for), hands what it won to the engine
// (Engine::Adopt) and gives up what it lost or holds beyond its share
// (Engine::Release). With models, one member also holds the models lease
// (state::kModelsLease) and runs the model phase (Engine::HoldModels). Its
// own thread, because a lease must be renewed however long the runs take.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "lib/config/config.h"
#include "lib/exec/engine.h"
#include "lib/state/cluster_store.h"
#include "lib/state/state_store.h"

namespace landfall::daemon {

class ClusterMember {
 public:
  // `on_taken` is called (on the member's thread) with the tables just
  // taken on, once the engine holds them: they should run soon.
  // `on_models`, every tick while this member holds the models: a run of
  // the model phase is due (it does nothing when no model needs work).
  ClusterMember(config::Config config, exec::Engine& engine, state::ClusterStore& store,
                state::StateStore& state,
                std::function<void(const std::set<std::string>&)> on_taken,
                std::function<void()> on_models);
  ~ClusterMember();

  // One round: heartbeat, leases renewed, claimed and given up, and the runs
  // of members that are gone marked interrupted. Errors are
  // logged; a member cut off from PostgreSQL for two thirds of the TTL stops
  // working on its tables (their leases are about to expire).
  void Tick();
  // Ticks every third of the TTL until Stop().
  void Start();
  // Stops ticking and leaves the cluster: its leases are released at once,
  // so the others take its tables over without waiting for the TTL.
  void Stop();

 private:
  // Every table that needs an owner: the landing folders and every table a
  // lease was ever taken for.
  std::set<std::string> Candidates();
  // The models lease: renewed with the others in Tick (`held`), claimed when
  // no live member holds it, and handed to the engine.
  void TickModels(bool held, const std::vector<state::Lease>& leases);

  const config::Config config_;
  exec::Engine& engine_;
  state::ClusterStore& store_;
  state::StateStore& state_;
  std::function<void(const std::set<std::string>&)> on_taken_;
  std::function<void()> on_models_;
  std::chrono::steady_clock::time_point last_heartbeat_ = std::chrono::steady_clock::now();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace landfall::daemon
