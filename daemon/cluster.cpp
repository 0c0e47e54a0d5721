#include "daemon/cluster.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <vector>

#include "lib/landing/catalog.h"

namespace landfall::daemon {

namespace {

std::string List(const std::set<std::string>& tables) {
  std::string out;
  for (const auto& t : tables) {
    if (out.size() > 200) return out + ", ...";
    out += (out.empty() ? "" : ", ") + t;
  }
  return out;
}

std::set<std::string> Minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::set<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

}  // namespace

ClusterMember::ClusterMember(config::Config config, exec::Engine& engine,
                             state::ClusterStore& store, state::StateStore& state,
                             std::function<void(const std::set<std::string>&)> on_taken,
                             std::function<void()> on_models)
    : config_(std::move(config)),
      engine_(engine),
      store_(store),
      state_(state),
      on_taken_(std::move(on_taken)),
      on_models_(std::move(on_models)) {}

ClusterMember::~ClusterMember() { Stop(); }

std::set<std::string> ClusterMember::Candidates() {
  std::set<std::string> tables;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(config_.landing.dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_directory(ec) && !landing::IsIgnored(name, config_.landing.ignore))
      tables.insert(name);
  }
  if (ec) spdlog::warn("cluster: cannot list {}: {}", config_.landing.dir.string(), ec.message());
  if (auto known = store_.KnownTables()) tables.insert(known->begin(), known->end());
  return tables;
}

void ClusterMember::Tick() {
  const auto now = std::chrono::steady_clock::now();
  const auto ttl = std::chrono::seconds(config_.cluster.lease_ttl_s);
  auto held = store_.Heartbeat();
  if (!held) {
    spdlog::warn("cluster: heartbeat: {}", held.error().ToString());
    if (now - last_heartbeat_ > ttl * 2 / 3) {
      if (engine_.HoldsModels()) {
        (void)engine_.HoldModels(false);
        spdlog::warn("cluster: no heartbeat; stopped running the models, whose lease is about to expire");
      }
      auto dropped = engine_.Release(engine_.Owned(), /*force=*/true);
      if (!dropped.empty()) {
        spdlog::warn(
            "cluster: no heartbeat for {} s; stopped working on {} tables, whose leases "
            "are about to expire",
            std::chrono::duration_cast<std::chrono::seconds>(now - last_heartbeat_).count(),
            dropped.size());
      }
    }
    return;
  }
  last_heartbeat_ = now;
  const bool models_held = held->erase(state::kModelsLease) > 0;

  // A member killed while running leaves its run "running"; once its
  // heartbeat is older than the TTL, whoever ticks first says so.
  if (auto interrupted = state_.MarkRunsInterrupted()) {
    for (const auto& run : *interrupted) {
      spdlog::warn(
          "cluster: run {} ({}) was left running by a member that is gone; marked interrupted",
          run.id, run.trigger);
    }
  }

  // Held by the engine but no longer in the store: another member has them.
  const auto owned = engine_.Owned();
  if (auto lost = Minus(owned, *held); !lost.empty()) {
    engine_.Release(lost, /*force=*/true);
    spdlog::warn("cluster: lost the lease of {} tables to another member: {}", lost.size(),
                 List(lost));
  }

  auto live = store_.LiveMembers();
  auto leases = store_.Leases();
  if (!live || !leases) {
    spdlog::warn("cluster: {}", (!live ? live.error() : leases.error()).ToString());
    return;
  }
  const auto candidates = Candidates();
  const size_t members = std::max(*live, 1);
  const size_t share = (candidates.size() + members - 1) / members;

  // Won earlier but not taken on (Adopt failed): tried again first.
  std::set<std::string> take = Minus(*held, engine_.Owned());
  std::set<std::string> holding = *held;
  if (holding.size() < share) {
    std::set<std::string> taken;
    for (const auto& lease : *leases) taken.insert(lease.table);
    // Free tables in an order of this member's own, so that members
    // claiming at once mostly ask for different tables.
    std::vector<std::string> free;
    for (const auto& t : Minus(candidates, taken)) free.push_back(t);
    const auto rank = [&](const std::string& t) {
      return std::hash<std::string>{}(store_.options().node + t);
    };
    std::sort(free.begin(), free.end(),
              [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
    free.resize(std::min(free.size(), share - holding.size()));
    if (auto won = store_.Claim(free)) {
      take.insert(won->begin(), won->end());
      holding.insert(won->begin(), won->end());
    } else {
      spdlog::warn("cluster: claim: {}", won.error().ToString());
    }
  }
  if (!take.empty()) {
    if (auto s = engine_.Adopt(take); !s) {
      spdlog::warn("cluster: taking on {} tables: {}; trying again", take.size(),
                   s.error().ToString());
    } else {
      spdlog::info("cluster: took on {} tables: {}", take.size(), List(take));
      on_taken_(take);
    }
  }

  // More than a fair share (a member joined): give up what is idle, so the
  // newcomer can claim it. One table of slack keeps an uneven count still.
  if (members > 1 && holding.size() > share + 1) {
    std::set<std::string> excess;
    for (auto it = holding.rbegin(); it != holding.rend() && holding.size() - excess.size() > share;
         ++it) {
      excess.insert(*it);
    }
    auto released = engine_.Release(excess, /*force=*/false);
    if (auto s = store_.Release({released.begin(), released.end()}); !s) {
      spdlog::warn("cluster: release: {}", s.error().ToString());
    } else if (!released.empty()) {
      spdlog::info("cluster: gave up {} tables for the other members: {}", released.size(),
                   List(released));
    }
  }
  if (config_.models.dir) TickModels(models_held, *leases);
}

void ClusterMember::TickModels(bool held, const std::vector<state::Lease>& leases) {
  // Free (or expired): whoever ticks first takes the models on.
  if (!held && std::ranges::none_of(leases, [](const state::Lease& lease) {
        return lease.table == state::kModelsLease;
      })) {
    auto won = store_.Claim({state::kModelsLease});
    if (!won) spdlog::warn("cluster: claiming the models: {}", won.error().ToString());
    held = won && won->contains(state::kModelsLease);
  }
  const bool had = engine_.HoldsModels();
  if (!held) {
    if (had) {
      (void)engine_.HoldModels(false);
      spdlog::warn("cluster: lost the models lease to another member");
    }
    return;
  }
  if (auto s = engine_.HoldModels(true); !s) {
    spdlog::warn("cluster: taking the models on: {}; trying again", s.error().ToString());
    return;
  }
  if (!had) spdlog::info("cluster: took the models on");
  // Other members' runs change what the models read: a model cycle every tick.
  on_models_();
}

void ClusterMember::Start() {
  thread_ = std::thread([this] {
    const auto period = std::chrono::milliseconds(config_.cluster.lease_ttl_s * 1000 / 3);
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, period, [&] { return stopping_; })) {
      lock.unlock();
      Tick();
      lock.lock();
    }
  });
}

void ClusterMember::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  (void)engine_.HoldModels(false);
  engine_.Release(engine_.Owned(), /*force=*/false);
  if (auto s = store_.Leave(); !s) {
    spdlog::warn("cluster: leaving: {}; the leases expire in {} s", s.error().ToString(),
                 config_.cluster.lease_ttl_s);
  } else {
    spdlog::info("cluster: left; the other members take this member's tables over");
  }
}

}  // namespace landfall::daemon
