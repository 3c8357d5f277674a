using System.Text.Json;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.Sandbox;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// Sandbox mode: the emulated DingTalk keeps its cards as long as the gateway's SQLite file keeps its own — in a file
/// beside it (<c>cardgateway.db</c> → <c>cardgateway.sandbox.json</c>), read at startup, written within a second of a
/// change and as the gateway stops. Otherwise a restart left the gateway with cards the emulator no longer had, and
/// their updates for everyone were refused as <c>param.cardNotExist</c> and dead-lettered. Nothing is kept for a
/// database in memory or on PostgreSQL.
/// </summary>
public sealed partial class SandboxPersistence(
    SandboxState sandbox, GatewayDatabase database, TimeProvider clock, ILogger<SandboxPersistence> logger) : BackgroundService
{
    /// <summary>How often a change is looked for: what a crash may lose of the emulator's cards (the gateway's own state is not affected).</summary>
    internal static readonly TimeSpan SaveInterval = TimeSpan.FromSeconds(1);

    /// <summary>What the file must hold, all of it: a list or a card's field missing or null is a file that cannot be read (7002), not a start that fails.</summary>
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = false, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true };

    private long _saved = -1;

    /// <summary>The emulator's file beside the SQLite database; null when the database is not a file.</summary>
    public string? File => database.SqliteFile is { } db ? Path.ChangeExtension(db, ".sandbox.json") : null;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (File is { } file && System.IO.File.Exists(file))
        {
            try
            {
                var snapshot = JsonSerializer.Deserialize<SandboxSnapshot>(System.IO.File.ReadAllText(file), Json)
                    ?? throw new JsonException("The file holds null.");
                sandbox.Import(snapshot);
                Log.Loaded(logger, snapshot.Cards.Count, snapshot.RobotCards.Count, file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
            {
                Log.NotLoaded(logger, file, ex.GetType().Name, ex.Message); // the emulator starts empty, as without the file
            }
        }

        _saved = sandbox.Changes;
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (File is null)
        {
            return;
        }

        using var timer = new PeriodicTimer(SaveInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Save();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (File is not null)
        {
            Save();
        }
    }

    /// <summary>Writes the emulator's cards if they changed since the last write: to a file of its own first, then moved over the old one.</summary>
    internal void Save()
    {
        var changes = sandbox.Changes;
        if (changes == _saved || File is not { } file)
        {
            return;
        }

        var written = file + ".tmp";
        try
        {
            System.IO.File.WriteAllText(written, JsonSerializer.Serialize(sandbox.Export(), Json));
            System.IO.File.Move(written, file, overwrite: true);
            _saved = changes;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.NotSaved(logger, file, ex.GetType().Name, ex.Message); // tried again at the next change
        }
    }

    private static partial class Log
    {
        [LoggerMessage(7001, LogLevel.Information, "Sandbox mode: the emulated DingTalk took back {Cards} card(s) and {RobotCards} robot card(s) from {File}")]
        public static partial void Loaded(ILogger logger, int cards, int robotCards, string file);

        [LoggerMessage(7002, LogLevel.Warning, "Sandbox mode: the emulated DingTalk's cards could not be read from {File} ({ExceptionType}: {Reason}); it starts empty, and the gateway's earlier cards' updates will be refused as param.cardNotExist")]
        public static partial void NotLoaded(ILogger logger, string file, string exceptionType, string reason);

        [LoggerMessage(7003, LogLevel.Warning, "Sandbox mode: the emulated DingTalk's cards could not be written to {File} ({ExceptionType}: {Reason}); tried again at the next change")]
        public static partial void NotSaved(ILogger logger, string file, string exceptionType, string reason);
    }
}
