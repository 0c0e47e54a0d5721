#include "lib/warehouse/on_demand_warehouse.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>
#include <utility>
#include <vector>

namespace landfall::warehouse {

namespace {

using Clock = std::chrono::steady_clock;

// DuckDB refusing the file because another process has it: "Could not set
// lock on file ...: Conflicting lock is held in /usr/bin/duckdb (PID 123)".
bool IsLockConflict(const Error& error) {
  return error.message.find("Could not set lock") != std::string::npos ||
         error.message.find("Conflicting lock") != std::string::npos;
}

// "/usr/bin/duckdb (PID 123)" from DuckDB's message, or "another process".
std::string Holder(const std::string& message) {
  static const std::regex kHolder(R"(Conflicting lock is held in (.*?) \(PID (\d+)\))");
  std::smatch m;
  if (std::regex_search(message, m, kHolder)) {
    return std::string(m[1]) + " (PID " + std::string(m[2]) + ")";
  }
  return "another process";
}

class OnDemandWarehouse final : public Warehouse {
 public:
  OnDemandWarehouse(DuckDbOptions options, std::chrono::milliseconds idle_close)
      : options_(std::move(options)), idle_close_(idle_close) {
    closer_ = std::thread([this] { CloseWhenIdle(); });
  }
  ~OnDemandWarehouse() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    closer_.join();
  }
  OnDemandWarehouse(const OnDemandWarehouse&) = delete;
  OnDemandWarehouse& operator=(const OnDemandWarehouse&) = delete;

  Status Init() override {
    return Use<void>([](Warehouse& w) { return w.Init(); });
  }
  Result<std::map<std::string, TableContents>> Inspect() override {
    return Use<std::map<std::string, TableContents>>([](Warehouse& w) { return w.Inspect(); });
  }
  Result<ApplyStats> Append(const std::string& table, const schema::Schema& target,
                            std::span<const BatchFile> batches) override {
    // The seam's contract: no batch, no statement; no reason to open the file.
    if (batches.empty()) return ApplyStats{};
    return Use<ApplyStats>([&](Warehouse& w) { return w.Append(table, target, batches); });
  }
  Result<ApplyStats> Evolve(const std::string& table, const schema::Schema& target,
                            std::span<const ColumnRename> renames,
                            std::span<const BatchFile> batches) override {
    if (batches.empty() && renames.empty()) return ApplyStats{};
    return Use<ApplyStats>(
        [&](Warehouse& w) { return w.Evolve(table, target, renames, batches); });
  }
  using Warehouse::Rebuild;
  Result<ApplyStats> Rebuild(const std::string& table, const schema::Schema& target,
                             std::span<const BatchFile> batches,
                             std::span<const std::string> carry_over) override {
    return Use<ApplyStats>(
        [&](Warehouse& w) { return w.Rebuild(table, target, batches, carry_over); });
  }
  Status Drop(const std::string& table) override {
    return Use<void>([&](Warehouse& w) { return w.Drop(table); });
  }
  Result<std::string> CommonSupertype(const std::string& a, const std::string& b) override {
    return Use<std::string>([&](Warehouse& w) { return w.CommonSupertype(a, b); });
  }
  int64_t StatementsExecuted() const override {
    std::lock_guard lock(mu_);
    return statements_before_ + (inner_ ? inner_->StatementsExecuted() : 0);
  }
  Result<int64_t> RowCount(const std::string& table) override {
    return Use<int64_t>([&](Warehouse& w) { return w.RowCount(table); });
  }
  Result<QueryAnswer> Query(const QueryRequest& request) override {
    return Use<QueryAnswer>([&](Warehouse& w) { return w.Query(request); });
  }
  std::string WaitingFor() override {
    std::lock_guard lock(mu_);
    return waiting_for_;
  }
  Result<WarehouseHold> Hold() override {
    auto opened = Acquire();
    if (!opened) return Fail(std::move(opened.error()));
    return WarehouseHold([this] { Release(); });
  }
  ModelWarehouse* Models() override { return &models_; }

 private:
  // The model side: each call, like the warehouse's own, on the file opened
  // for it unless a Hold keeps it open already.
  class OnDemandModels final : public ModelWarehouse {
   public:
    explicit OnDemandModels(OnDemandWarehouse& owner) : owner_(owner) {}
    Status InitModels(const std::string& schema) override {
      return owner_.UseModels<void>([&](ModelWarehouse& m) { return m.InitModels(schema); });
    }
    Result<std::map<std::string, ModelContents>> InspectModels(const std::string& schema) override {
      return owner_.UseModels<std::map<std::string, ModelContents>>(
          [&](ModelWarehouse& m) { return m.InspectModels(schema); });
    }
    Result<std::map<std::string, int64_t>> TargetRows(const std::string& schema) override {
      return owner_.UseModels<std::map<std::string, int64_t>>(
          [&](ModelWarehouse& m) { return m.TargetRows(schema); });
    }
    Result<schema::Schema> TargetColumns(const std::string& schema, const std::string& name) override {
      return owner_.UseModels<schema::Schema>([&](ModelWarehouse& m) { return m.TargetColumns(schema, name); });
    }
    Result<schema::Schema> DescribeQuery(const std::string& sql) override {
      return owner_.UseModels<schema::Schema>([&](ModelWarehouse& m) { return m.DescribeQuery(sql); });
    }
    Result<ModelWriteStats> WriteModel(const ModelWrite& write) override {
      return owner_.UseModels<ModelWriteStats>([&](ModelWarehouse& m) { return m.WriteModel(write); });
    }
    Result<std::optional<double>> ObserveCheck(const std::string& schema, const std::string& name,
                                               const TargetCheck& check) override {
      return owner_.UseModels<std::optional<double>>(
          [&](ModelWarehouse& m) { return m.ObserveCheck(schema, name, check); });
    }
    Status DropModel(const std::string& schema, const std::string& name) override {
      return owner_.UseModels<void>([&](ModelWarehouse& m) { return m.DropModel(schema, name); });
    }
    Status ResetPartitions(const std::string& schema, const std::string& name, const std::string& sql) override {
      return owner_.UseModels<void>([&](ModelWarehouse& m) { return m.ResetPartitions(schema, name, sql); });
    }
    Result<PartitionWriteStats> WritePartitions(const PartitionWrite& write) override {
      return owner_.UseModels<PartitionWriteStats>([&](ModelWarehouse& m) { return m.WritePartitions(write); });
    }
    Result<std::vector<std::string>> TouchedPartitions(const std::string& sql, const std::string& table,
                                                       const std::vector<std::string>& batch_ids,
                                                       const PartitionLayout& layout) override {
      return owner_.UseModels<std::vector<std::string>>(
          [&](ModelWarehouse& m) { return m.TouchedPartitions(sql, table, batch_ids, layout); });
    }
    Result<std::vector<std::string>> ChangedPartitions(const std::string& model, const PartitionSource& source,
                                                       const PartitionLayout& layout, const std::string& start,
                                                       const std::string& end) override {
      return owner_.UseModels<std::vector<std::string>>(
          [&](ModelWarehouse& m) { return m.ChangedPartitions(model, source, layout, start, end); });
    }
    Result<ModelWriteStats> FinishPartitions(const PartitionsFinish& finish) override {
      return owner_.UseModels<ModelWriteStats>([&](ModelWarehouse& m) { return m.FinishPartitions(finish); });
    }
    Result<std::optional<TargetHashes>> HashesAt(const std::string& name, int64_t version) override {
      return owner_.UseModels<std::optional<TargetHashes>>([&](ModelWarehouse& m) { return m.HashesAt(name, version); });
    }
    Status ConsumeUnchanged(const std::string& name, const std::vector<ModelSource>& upstream) override {
      return owner_.UseModels<void>([&](ModelWarehouse& m) { return m.ConsumeUnchanged(name, upstream); });
    }

   private:
    OnDemandWarehouse& owner_;
  };

  // Runs `call` on the open warehouse's model side.
  template <typename T, typename F>
  std::expected<T, Error> UseModels(F call) {
    return Use<T>([&](Warehouse& w) -> std::expected<T, Error> {
      ModelWarehouse* models = w.Models();
      if (models == nullptr) return Fail("warehouse_error", "the warehouse cannot build models");
      return call(*models);
    });
  }

  // Runs `call` on the open warehouse, opening it first when it is closed.
  template <typename T, typename F>
  std::expected<T, Error> Use(F call) {
    auto opened = Acquire();
    if (!opened) return std::unexpected(std::move(opened.error()));
    auto result = call(**opened);
    Release();
    return result;
  }

  Result<Warehouse*> Acquire() {
    std::lock_guard lock(mu_);
    if (!inner_) {
      auto opened = OpenDuckDb(options_);
      if (!opened) {
        if (!IsLockConflict(opened.error())) return Fail(opened.error());
        const std::string holder = Holder(opened.error().message);
        const std::string why = "the warehouse " + options_.path.string() + " is open in " +
                                holder + " (warehouse.hold_open: false): runs wait for it";
        if (waiting_for_.empty()) {
          spdlog::warn("warehouse: {}; retrying with backoff", why);
        } else {
          spdlog::debug("warehouse: {}", why);
        }
        waiting_for_ = why;
        return Fail("warehouse_busy", why, /*transient=*/true);
      }
      if (!waiting_for_.empty()) spdlog::info("warehouse: {} is free again", options_.path.string());
      waiting_for_.clear();
      inner_ = std::move(*opened);
    }
    ++users_;
    return inner_.get();
  }

  void Release() {
    {
      std::lock_guard lock(mu_);
      --users_;
      last_used_ = Clock::now();
    }
    cv_.notify_all();
  }

  // The closer thread: closes the file once no call has run for idle_close_.
  // Closing checkpoints the WAL into the file, so a reader sees every commit.
  void CloseWhenIdle() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (inner_ && users_ == 0) {
        const auto due = last_used_ + idle_close_;
        if (Clock::now() >= due) {
          statements_before_ += inner_->StatementsExecuted();
          inner_.reset();
          continue;
        }
        cv_.wait_until(lock, due);
      } else {
        cv_.wait(lock);
      }
    }
  }

  const DuckDbOptions options_;
  const std::chrono::milliseconds idle_close_;

  mutable std::mutex mu_;  // guards the fields below; held while opening and closing
  std::condition_variable cv_;
  std::unique_ptr<Warehouse> inner_;  // the open warehouse, or null
  int users_ = 0;                     // calls running on inner_
  Clock::time_point last_used_{};
  int64_t statements_before_ = 0;  // statements of the warehouses already closed
  std::string waiting_for_;        // why the last open failed on a lock; "" after one succeeded
  bool stopping_ = false;
  OnDemandModels models_{*this};
  std::thread closer_;  // started last: it uses every field above
};

}  // namespace

Result<std::unique_ptr<Warehouse>> OpenDuckDbOnDemand(const DuckDbOptions& options,
                                                      std::chrono::milliseconds idle_close) {
  // Open once now: a file that cannot be created or opened fails here, as
  // the held-open warehouse would, and it is created before any reader can
  // look for it.
  {
    auto first = OpenDuckDb(options);
    if (!first && !IsLockConflict(first.error())) return Fail(first.error());
  }
  return std::unique_ptr<Warehouse>(std::make_unique<OnDemandWarehouse>(options, idle_close));
}

}  // namespace landfall::warehouse
