using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Storage;

public static class StorageExtensions
{
    /// <summary>
    /// SQLite (default) or PostgreSQL behind the store interfaces, with the schema migrated at startup, the outbox
    /// dispatcher, retention, the typewriter's per-card leases, and a readiness check. Stores are scoped: one storage
    /// session (unit of work) per scope.
    /// </summary>
    public static IServiceCollection AddGatewayStorage(this IServiceCollection services)
    {
        services.AddGatewayMetrics();
        services.AddOptionsWithValidateOnStart<OutboxOptions>().BindConfiguration(OutboxOptions.Section);
        services.AddSingleton<IValidateOptions<OutboxOptions>, OutboxOptionsValidator>();
        services.AddSingleton<GatewayDatabase>();
        services.AddSingleton<RefusedRequests>();
        services.AddSingleton<DatabaseBack>();
        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<SqliteWalSync>();
        services.AddSingleton<SqliteWriteBatcher>();
        services.AddSingleton<CardStateNames>();
        services.AddScoped<StorageSession>();
        services.AddScoped<ICardStore, SqlCardStore>();
        services.AddScoped<ICallbackStore, SqlCallbackStore>();
        services.AddScoped<IHandlerStateStore, SqlHandlerStateStore>();
        services.AddScoped<IOutbox, SqlOutbox>();
        services.AddSingleton<EffectSignal>();
        services.AddScoped<SqlEffects>();
        services.AddScoped<CardUpdates>();
        services.AddScoped<Admin.CardListing>();
        services.AddSingleton<ITypingLeases, SqlTypingLeases>(); // one owner per process

        // The schema first: hosted services start in registration order, and everything after needs the tables.
        services.AddSingleton<SchemaMigrator>();
        services.AddHostedService(sp => sp.GetRequiredService<SchemaMigrator>());
        services.AddSingleton<OutboxDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxDispatcher>());
        services.AddSingleton<SqliteCheckpointer>();
        services.AddHostedService(sp => sp.GetRequiredService<SqliteCheckpointer>());
        services.AddSingleton<SqliteBackup>();
        services.AddHostedService(sp => sp.GetRequiredService<SqliteBackup>());
        services.AddSingleton<RetentionService>();
        services.AddHostedService(sp => sp.GetRequiredService<RetentionService>());
        services.AddSingleton<StorageHealthCheck>(); // one query at a time, and the last one's failure, across probes
        services.AddHealthChecks().AddCheck<StorageHealthCheck>("storage", tags: [HealthExtensions.ReadyTag]);
        return services;
    }
}
