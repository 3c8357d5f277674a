using System.Text;
using BenchmarkDotNet.Attributes;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DingTalk.CardGateway.Benchmarks;

/// <summary>
/// A poll vote through the real <see cref="CallbackPipeline"/> on a real SQLite file (WAL, <c>synchronous=FULL</c>,
/// group commit): claim, card, handler, card update, outbox entry, completion, durable commit — everything but HTTP
/// and the outbox dispatcher (the host is not started, so nothing is sent; the WAL checkpointer runs). Per vote, one at a time (every vote
/// pays its own fsync) and 32 at once (as 32 connections would: one fsync serves a batch).
/// </summary>
[MemoryDiagnoser]
public class DurableVoteBenchmarks
{
    private const int Votes32 = 32;
    private const string Card = "bench-poll";
    private string _folder = "";
    private IHost _host = null!;
    private CallbackPipeline _pipeline = null!;
    private long _seq;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _folder = Directory.CreateTempSubdirectory("cardgateway-bench-").FullName;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = _folder, EnvironmentName = "Production" });
        builder.Configuration["Gateway:Storage:ConnectionString"] = $"Data Source={Path.Combine(_folder, "bench.db")}";
        builder.Logging.ClearProviders();
        builder.Services.AddGatewayOptions();
        builder.Services.AddDingTalkClients();
        builder.Services.AddGatewayStorage();
        builder.Services.AddCardCallbacks();
        builder.Services.AddCardHandlers();
        _host = builder.Build();
        await _host.Services.GetRequiredService<SchemaMigrator>().StartAsync(CancellationToken.None);
        await using (var scope = _host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(
                new CardRecord { Id = Card, Kind = CardKind.Advanced, TemplateId = "bench.poll", PublicData = new Dictionary<string, string> { ["question"] = "Bench?" } },
                CancellationToken.None);
        }

        _pipeline = _host.Services.GetRequiredService<CallbackPipeline>();
        await _host.Services.GetRequiredService<SqliteCheckpointer>().StartAsync(CancellationToken.None); // as in the gateway: the writer leaves the WAL to it
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _host.Services.GetRequiredService<SqliteCheckpointer>().StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        _host.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = Votes32)]
    public async Task OneAtATime()
    {
        for (var i = 0; i < Votes32; i++)
        {
            await VoteAsync();
        }
    }

    [Benchmark(OperationsPerInvoke = Votes32)]
    public Task ThirtyTwoAtOnce() => Task.WhenAll(Enumerable.Range(0, Votes32).Select(_ => Task.Run(VoteAsync)));

    private async Task VoteAsync()
    {
        var seq = Interlocked.Increment(ref _seq);
        var body = Encoding.UTF8.GetBytes(Votes.Body(Card, $"u{seq % 10_000}", "ABC"[(int)(seq % 3)].ToString(), seq));
        var signedAt = (1_700_000_000_000 + (seq / 4)).ToString(System.Globalization.CultureInfo.InvariantCulture); // a few clicks per millisecond, as DingTalk signs them
        if (!CardActionParser.TryParse(body, CallbackTransport.Http, signedAt, out var action, out var problem))
        {
            throw new InvalidOperationException(problem);
        }

        var reply = await _pipeline.HandleAsync(action, TimeProvider.System.GetTimestamp(), Task.CompletedTask, CancellationToken.None);
        if (reply.Outcome != CallbackOutcome.Handled)
        {
            throw new InvalidOperationException($"The vote was {reply.Outcome}, not handled.");
        }
    }
}
