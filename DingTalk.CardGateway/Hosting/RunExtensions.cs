using System.Data.Common;
using System.Runtime.InteropServices;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

public static partial class RunExtensions
{
    /// <summary>
    /// Runs the gateway. A configuration that fails validation, or a database that cannot be used, stops it before
    /// the host starts, with one line saying why (every missing key, or the database's own error) and exit code 1: no
    /// stack trace for an operator to dig through.
    /// </summary>
    public static async Task<int> RunGatewayAsync(this WebApplication app)
    {
        var failures = ConfigurationProblems.Find(app.Services);
        if (failures.Count > 0)
        {
            return await CannotStartAsync(string.Join(" ", failures));
        }

        // The schema before the host starts, so a database that cannot be used stops the process the same way: one
        // line saying why, exit code 1 — not the host's "failed to start" with a stack trace and an abort.
        var storage = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.Storage;
        using (var signals = new StartupSignals())
        {
            try
            {
                await app.Services.GetRequiredService<SchemaMigrator>().StartAsync(signals.Stopping);
            }
            catch (OperationCanceledException) when (signals.Received is { } signal)
            {
                return StoppedWhileStarting(app, signal, storage);
            }
            catch (Exception ex) when (ex is DbException or IOException or UnauthorizedAccessException or ArgumentException or SchemaTooNewException)
            {
                if (signals.Received is { } signal)
                {
                    return StoppedWhileStarting(app, signal, storage); // the cancelled wait surfaced as the database's own error
                }

                return await CannotStartAsync($"the {storage.Provider} database (Gateway:Storage:ConnectionString) cannot be used: {SchemaMigrator.Describe(ex)}");
            }

            if (signals.Received is { } late)
            {
                return StoppedWhileStarting(app, late, storage);
            }
        }

        ReportStop(app);
        try
        {
            await app.RunAsync();
        }
        catch (IOException ex) when (IsAddressInUse(ex))
        {
            // A second dotnet run, or another program on the port: the host's "failed to start" is not logged (LoggingExtensions).
            return await CannotStartAsync(
                $"{BoundAddress(ex)} is already in use: another program (a gateway still running?) listens there. Stop it, or listen elsewhere: --urls http://localhost:5090 (or ASPNETCORE_URLS, which dotnet run's launch profile overrides).");
        }

        return 0;
    }

    /// <summary>
    /// The stop's last line (1112), once the host has stopped everything: how long it took from the signal (or the
    /// stop's call), and what it left undone — each item also said in its own line when it happened.
    /// </summary>
    private static void ReportStop(WebApplication app)
    {
        var clock = app.Services.GetRequiredService<TimeProvider>();
        var report = app.Services.GetRequiredService<StopReport>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RunExtensions).FullName!);
        var began = 0L;
        app.Lifetime.ApplicationStopping.Register(() => Volatile.Write(ref began, clock.GetTimestamp()));
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            var left = report.LeftUndone();
            Log.Stopped(logger, (long)clock.GetElapsedTime(Volatile.Read(ref began)).TotalMilliseconds, left.Count == 0 ? "nothing left undone" : "left undone: " + string.Join("; ", left));
        });
    }

    /// <summary>A stop asked for before the host runs (a rollout that gave up on a replica still waiting for its database): said, exit code 0, as after the host's own stop.</summary>
    private static int StoppedWhileStarting(WebApplication app, PosixSignal signal, StorageOptions storage)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RunExtensions).FullName!);
        Log.StoppedWhileStarting(logger, signal == PosixSignal.SIGINT ? "SIGINT" : "SIGTERM", storage.Provider);
        return 0;
    }

    /// <summary>
    /// SIGTERM and SIGINT before the host runs. Until the host starts, its console lifetime does not handle them, and the
    /// runtime's default ends the process at once (exit code 143 or 130) with nothing in the log: while the schema waits
    /// for a database (up to <c>Gateway:Storage:StartupWait</c>, 60 s), a <c>docker stop</c> or a rollout would find a
    /// process that vanished without a word. Here a signal cancels the wait instead; the host's lifetime takes the
    /// signals over when it starts.
    /// </summary>
    private sealed class StartupSignals : IDisposable
    {
        private readonly CancellationTokenSource _stopping = new();
        private readonly PosixSignalRegistration _term;
        private readonly PosixSignalRegistration _interrupt;
        private int _received; // 0: none yet (every PosixSignal is negative, a raw signal number positive)

        public StartupSignals()
        {
            _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
            _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        }

        public CancellationToken Stopping => _stopping.Token;

        /// <summary>The first signal received, if any.</summary>
        public PosixSignal? Received => Volatile.Read(ref _received) is var received and not 0 ? (PosixSignal)received : null;

        private void Handle(PosixSignalContext context)
        {
            context.Cancel = true; // not the runtime's default (the end of the process): the wait is cancelled, and RunGatewayAsync says so
            Interlocked.CompareExchange(ref _received, (int)context.Signal, 0);
            _stopping.Cancel();
        }

        public void Dispose()
        {
            _term.Dispose();
            _interrupt.Dispose();
            _stopping.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1111, LogLevel.Information, "Stopped by {Signal} while starting, before it took any callback: the {Provider} database was not ready yet (Gateway:Storage:StartupWait); nothing was left undone")]
        public static partial void StoppedWhileStarting(ILogger logger, string signal, string provider);

        [LoggerMessage(1112, LogLevel.Information, "Stopped {ElapsedMs} ms after the stop began: {Undone:l}")]
        public static partial void Stopped(ILogger logger, long elapsedMs, string undone);
    }

    /// <summary>Whether <paramref name="exception"/> is Kestrel's refusal to listen on an address another program holds.</summary>
    public static bool IsAddressInUse(Exception? exception) => exception is IOException { InnerException: AddressInUseException };

    /// <summary>The address Kestrel names in "Failed to bind to address http://127.0.0.1:5080: address already in use.".</summary>
    private static string BoundAddress(IOException ex)
    {
        const string Before = "address ", After = ": address already in use";
        var end = ex.Message.IndexOf(After, StringComparison.Ordinal);
        var start = end < 0 ? -1 : ex.Message.LastIndexOf(Before, end, StringComparison.Ordinal);
        return start < 0 ? "The address to listen on" : ex.Message[(start + Before.Length)..end];
    }

    /// <summary>The one line an operator sees when the gateway will not start; the process's exit code.</summary>
    private static async Task<int> CannotStartAsync(string reason)
    {
        await Console.Error.WriteLineAsync($"DingTalk.CardGateway cannot start: {reason}");
        return 1;
    }
}
