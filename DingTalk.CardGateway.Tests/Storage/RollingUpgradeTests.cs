using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// A rolling deployment on PostgreSQL: old replicas go on serving while a new one migrates the schema they share. Their
/// statements are prepared on their pooled connections (Npgsql's auto-prepare, on by default here), and PostgreSQL
/// refuses a prepared statement whose result a migration changed (<c>0A000 cached plan must not change result type</c>,
/// what a prepared <c>SELECT *</c> meets after <c>ALTER TABLE … ADD COLUMN</c>). Every statement names its columns, so a
/// migration that only adds changes none of theirs.
/// </summary>
public sealed partial class RollingUpgradeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public Task On_PostgreSQL_a_running_gateway_goes_on_handling_clicks_and_sending_updates_after_another_replica_adds_columns_to_its_tables() =>
        WaitingHandlerTests.OnPostgresAsync(async postgres =>
        {
            var poll = await postgres.SendCardAsync("tpl.poll");

            // Each statement used often enough on the pool's connections to be prepared there (auto-prepare's fifth use).
            await ServeAsync(postgres, poll, from: 0, count: 12);

            // What a newer replica's additive migration does, from its own connection, while this gateway runs.
            await using (var newer = new NpgsqlConnection(postgres.App.Services.GetRequiredService<GatewayDatabase>().ConnectionString))
            {
                await newer.OpenAsync();
                foreach (var table in new[] { "callbacks", "cards", "outbox", "effects", "handler_state" })
                {
                    await using var alter = new NpgsqlCommand($"ALTER TABLE {table} ADD COLUMN newer_build_note TEXT NULL", newer);
                    await alter.ExecuteNonQueryAsync();
                }
            }

            await ServeAsync(postgres, poll, from: 12, count: 12);
            var after = await postgres.SendCardAsync("tpl.poll"); // a card stored beside the new column
            await postgres.ClickAsync(after, "u0", new { action = "vote", option = "a" }).WaitAsync(Patience);

            await using var scope = postgres.App.Services.CreateAsyncScope();
            var stored = await scope.ServiceProvider.GetRequiredService<ICardStore>().FindAsync(poll, CancellationToken.None);
            Assert.Equal("24", stored!.PublicData["total"]);
            Assert.Equal(24, (await postgres.HistoryAsync(poll)).Count(c => c.Outcome == CallbackOutcome.Handled));
            await Eventually.TrueAsync(() => postgres.DingTalk.State.FindCard(poll)?.CardData.GetValueOrDefault("round") == "23", "everyone's card shows the last update");
            await Eventually.TrueAsync(async () => (await scope.ServiceProvider.GetRequiredService<IOutbox>().UnsentForCardAsync(poll, CancellationToken.None)).Count == 0, "every update sent");
            Assert.DoesNotContain(postgres.Logs.LogEvents, e => e.Level >= LogEventLevel.Error);
            Assert.DoesNotContain(postgres.Logs.LogEvents, e => (e.Exception?.ToString() ?? e.RenderMessage()).Contains("0A000", StringComparison.Ordinal));
        });

    /// <summary>
    /// The same, on the paths the test above does not run (retention, the admin API's lists, the effects): no statement of
    /// the gateway reads or returns every column of a table, whose result a column added by a newer replica would change.
    /// </summary>
    [Fact]
    public void No_statement_reads_or_returns_every_column_of_a_table()
    {
        var root = Path.Combine(NodeScript.RepoRoot(), "DingTalk.CardGateway");
        var separator = Path.DirectorySeparatorChar;
        var found = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(file => !file.Contains($"{separator}obj{separator}", StringComparison.Ordinal) && !file.Contains($"{separator}bin{separator}", StringComparison.Ordinal))
            .SelectMany(file => EveryColumn().Matches(File.ReadAllText(file)).Select(m => $"{Path.GetRelativePath(root, file)}: {m.Value}"))
            .ToList();

        Assert.True(found.Count == 0, "name the columns instead: " + string.Join(" | ", found));
    }

    /// <summary><c>SELECT * FROM table</c> (a subquery's <c>SELECT * FROM (…)</c> names its columns inside) or <c>RETURNING *</c>.</summary>
    [GeneratedRegex(@"SELECT\s+(\w+\.)?\*\s+FROM\s+(?!\()|RETURNING\s+\*", RegexOptions.IgnoreCase)]
    private static partial Regex EveryColumn();

    /// <summary>A vote, an operator's update (waited for until DingTalk has it) and a read of the card, <paramref name="count"/> times.</summary>
    private static async Task ServeAsync(CallbackGateway postgres, string poll, int from, int count)
    {
        for (var round = from; round < from + count; round++)
        {
            var option = round % 2 == 0 ? "a" : "b";
            var answer = await postgres.ClickAsync(poll, $"u{round}", new { action = "vote", option }).WaitAsync(Patience);
            Assert.Equal(option, answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString()); // handled, not {}
            using var update = await postgres.Api.PutAsJsonAsync($"/api/cards/{poll}", new { cardData = new { round = round.ToString(System.Globalization.CultureInfo.InvariantCulture) } });
            Assert.Equal(HttpStatusCode.NoContent, update.StatusCode);
            using var read = await postgres.Api.GetAsync($"/api/cards/{poll}");
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }
    }
}
