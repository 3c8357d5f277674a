using System.Data.Common;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

public static class RunExtensions
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
        try
        {
            await app.Services.GetRequiredService<SchemaMigrator>().StartAsync(app.Lifetime.ApplicationStopping);
        }
        catch (Exception ex) when (ex is DbException or IOException or UnauthorizedAccessException or ArgumentException or SchemaTooNewException)
        {
            var storage = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.Storage;
            return await CannotStartAsync($"the {storage.Provider} database (Gateway:Storage:ConnectionString) cannot be used: {SchemaMigrator.Describe(ex)}");
        }

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
