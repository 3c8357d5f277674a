using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>The storage services alone, on a fresh migrated database of one provider.</summary>
public abstract class StorageFixture : IAsyncLifetime
{
    private ServiceProvider? _services;

    public IServiceProvider Services => _services ?? throw new InvalidOperationException("No database: " + SkipReason);

    public string? ConnectionString { get; private set; }

    public abstract string Provider { get; }

    public bool Available => _services is not null;

    public string SkipReason => PostgresServer.SkipReason;

    public async Task InitializeAsync()
    {
        ConnectionString = await CreateDatabaseAsync();
        if (ConnectionString is null)
        {
            return;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:Storage:Provider"] = Provider,
            ["Gateway:Storage:ConnectionString"] = ConnectionString,
        }).Build();
        _services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddSingleton<IHostEnvironment>(new HostingEnvironment { ContentRootPath = Path.GetTempPath(), EnvironmentName = "Testing" })
            .AddLogging(l => l.SetMinimumLevel(LogLevel.Warning))
            .AddGatewayOptions()
            .AddGatewayStorage()
            .BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        await _services.GetRequiredService<SchemaMigrator>().StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }

        await DropDatabaseAsync(ConnectionString);
    }

    /// <summary>A new scope: one storage session, as one callback or admin call has.</summary>
    public AsyncServiceScope Scope() => Services.CreateAsyncScope();

    protected abstract Task<string?> CreateDatabaseAsync();

    protected virtual Task DropDatabaseAsync(string? connectionString) => Task.CompletedTask;
}
