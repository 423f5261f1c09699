// What every keyward benchmark does after its runs: print a table of ratios against the baseline it
// measured in the same run. RecordingReporter prints the usual console output and keeps, per run name,
// the median time (or, without repetitions, the only one) and items/s; RunBenchmarks runs what the
// command line selects and hands the reporter to the benchmark's own table printer.
#pragma once

#include <benchmark/benchmark.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace keyward::bench {

class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      const std::string name = r.run_name.str();
      times_[name] = r.GetAdjustedRealTime();  // in the benchmark's unit
      if (const auto it = r.counters.find("items_per_second"); it != r.counters.end()) rates_[name] = it->second.value;
    }
  }

  // The run's time in its benchmark's unit; -1 when it did not run.
  double Time(const std::string& run) const {
    const auto it = times_.find(run);
    return it == times_.end() ? -1 : it->second;
  }
  // The run's items/s; 0 when it did not run or counts no items.
  double Rate(const std::string& run) const {
    const auto it = rates_.find(run);
    return it == rates_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> times_;
  std::map<std::string, double> rates_;
};

// The body of a benchmark's main(): 1 on unrecognised arguments, else 0 after print_ratios.
inline int RunBenchmarks(int argc, char** argv, const std::function<void(const RecordingReporter&)>& print_ratios) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_ratios(reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace keyward::bench
