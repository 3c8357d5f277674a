using BenchmarkDotNet.Running;
using DingTalk.CardGateway.Benchmarks;

// dotnet run -c Release --project bench/DingTalk.CardGateway.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(CallbackBenchmarks).Assembly).Run(args);
