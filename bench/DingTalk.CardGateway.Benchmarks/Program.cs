using BenchmarkDotNet.Running;
using DingTalk.CardGateway.Benchmarks;

// dotnet run -c Release --project bench/DingTalk.CardGateway.Benchmarks -- --filter '*'
// CI runs them once each (--job dry --inProcess) so they keep working; a benchmark that fails fails the run.
var summaries = BenchmarkSwitcher.FromAssembly(typeof(CallbackBenchmarks).Assembly).Run(args);
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
