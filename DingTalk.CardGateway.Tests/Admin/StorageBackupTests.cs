using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Admin;

/// <summary>
/// <c>GET /api/storage/backup</c>: one consistent SQLite file, taken while clicks and the outbox go on, that a gateway
/// starts on again as if it had stopped at that moment.
/// </summary>
public sealed class StorageBackupTests : IAsyncLifetime
{
    private const string Route = "/api/storage/backup";
    private readonly List<string> _databases = [];
    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync()
    {
        await _dingTalk.DisposeAsync();
        foreach (var database in _databases)
        {
            SqliteFiles.Delete(database);
        }
    }

    [Fact]
    public async Task A_backup_taken_while_votes_come_in_and_the_outbox_sends_is_whole_and_a_gateway_started_on_it_carries_on()
    {
        const string flowing = "backup-flowing";
        const string stuck = "backup-stuck";
        var copy = NewDatabase();
        (string Card, string User)[] answeredBefore;
        await using (var gateway = new GatewayFactory(_dingTalk))
        {
            using var api = gateway.CreateAdminClient();
            await SendPollAsync(api, flowing);
            await SendPollAsync(api, stuck);

            // DingTalk takes one card's updates and refuses the other's for now: the outbox sends the first and keeps
            // retrying the second, whose entries are still pending when the backup is taken.
            _dingTalk.State.FailNext(HttpMethod.Put, "/v1.0/card/instances", 503, "ServiceUnavailable", times: 1_000_000, bodyContains: stuck);
            using var voting = new CancellationTokenSource();
            var answered = new ConcurrentQueue<(string Card, string User)>();
            var voters = Enumerable.Range(0, 4).Select(v => VoteUntilAsync(gateway, $"voter{v}-", [flowing, stuck], answered, voting.Token)).ToArray();
            await Eventually.TrueAsync(
                () => answered.Count >= 40 && _dingTalk.State.FindCard(flowing)?.CardData.ContainsKey("total") == true
                    && _dingTalk.State.RequestsTo("/v1.0/card/instances").Any(r => r.Method == "PUT" && r.Status == 503),
                "votes answered, one card's updates delivered and the other's refused");

            answeredBefore = [.. answered];
            using var response = await api.GetAsync(Route);
            var downloaded = await response.Content.ReadAsByteArrayAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(downloaded)}");
            await File.WriteAllBytesAsync(copy, downloaded);
            await voting.CancelAsync();
            await Task.WhenAll(voters);

            Assert.Equal(StorageAdminEndpointsContentType, response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
            Assert.Matches(@"^""?cardgateway-\d{8}T\d{6}Z\.db""?$", response.Content.Headers.ContentDisposition?.FileName);
            Assert.Equal(downloaded.Length, response.Content.Headers.ContentLength);
            Assert.Empty(FilesBeside(gateway)); // the snapshot's file is gone once handed out
            var taken = Assert.Single(gateway.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 4401);
            Assert.Equal(Serilog.Events.LogEventLevel.Information, taken.Level);
            Assert.Equal(downloaded.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), taken.Properties["Bytes"].ToString());
        }

        long[] pendingInBackup;
        int stuckTotal;
        await using (var backup = new SqliteConnection($"Data Source={copy};Pooling=False"))
        {
            await backup.OpenAsync();
            Assert.Equal("ok", await backup.ExecuteScalarAsync<string>("PRAGMA integrity_check"));
            Assert.Equal(Schema.Migrations(new SqliteDialect()).Count, await backup.ExecuteScalarAsync<int>("SELECT MAX(version) FROM schema_migrations"));
            foreach (var card in new[] { flowing, stuck })
            {
                await AssertConsistentAsync(backup, card);
            }

            // Every vote answered before the backup was asked for is in it, handled.
            var recorded = (await backup.QueryAsync<(string CardId, string UserId)>("SELECT card_id, user_id FROM callbacks")).ToHashSet();
            Assert.All(answeredBefore, vote => Assert.Contains(vote, recorded));
            pendingInBackup = [.. await backup.QueryAsync<long>("SELECT id FROM outbox WHERE card_id = @stuck AND status = 'Pending'", new { stuck })];
            Assert.NotEmpty(pendingInBackup);
            stuckTotal = (await TallyAsync(backup, stuck)).Total;
        }

        // Restored as the README says (the file in place, no -wal or -shm beside it), and started the usual way.
        _dingTalk.State.ClearFaults();
        var restored = NewDatabase();
        File.Copy(copy, restored);
        await using (var gateway = new GatewayFactory(_dingTalk, new Dictionary<string, string?> { ["Gateway:Storage:ConnectionString"] = $"Data Source={restored}" }))
        {
            using var client = gateway.CreateClient();
            await VoteAsync(client, stuck, "voter-after-restore");

            await Eventually.TrueAsync(
                () => _dingTalk.State.FindCard(stuck)?.CardData.GetValueOrDefault("total") == (stuckTotal + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
                $"everyone's card counting the vote after the restore on top of the backup's {stuckTotal}");
            var database = gateway.Services.GetRequiredService<GatewayDatabase>();
            await Eventually.TrueAsync(
                async () =>
                {
                    await using var connection = await database.OpenAsync(CancellationToken.None);
                    return await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM outbox WHERE id IN @pendingInBackup AND status = 'Sent'", new { pendingInBackup }) == pendingInBackup.Length;
                },
                "the updates pending in the backup delivered by the gateway started on it");
        }
    }

    [Fact]
    public async Task A_backup_does_not_wait_for_the_writer_and_holds_only_what_was_committed()
    {
        await using var gateway = new GatewayFactory(_dingTalk);
        using var api = gateway.CreateAdminClient();
        await SendPollAsync(api, "backup-committed");

        // A unit holds SQLite's one writer, with a write not committed: the backup is taken beside it all the same.
        await using var scope = gateway.Services.CreateAsyncScope();
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(CancellationToken.None);
        await scope.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(
            new CardRecord { Id = "backup-uncommitted", Kind = CardKind.Advanced, TemplateId = "tpl.poll" }, CancellationToken.None);
        var backup = api.GetAsync(Route);
        Assert.Same(backup, await Task.WhenAny(backup, Task.Delay(TimeSpan.FromSeconds(30))));
        using var response = await backup;
        var copy = NewDatabase();
        await File.WriteAllBytesAsync(copy, await response.Content.ReadAsByteArrayAsync());
        await session.RollbackAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var connection = new SqliteConnection($"Data Source={copy};Pooling=False");
        Assert.Equal(["backup-committed"], await connection.QueryAsync<string>("SELECT id FROM cards"));
    }

    [Fact]
    public async Task A_backup_needs_the_admin_key()
    {
        await using var gateway = new GatewayFactory(_dingTalk);
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync(Route);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(FilesBeside(gateway));
    }

    [Fact]
    public async Task A_second_backup_while_one_is_under_way_is_refused_409_and_taken_once_it_is_done()
    {
        await using var gateway = new GatewayFactory(_dingTalk);
        using var api = gateway.CreateAdminClient();
        var backups = gateway.Services.GetRequiredService<SqliteBackup>();

        var first = await backups.TakeAsync(CancellationToken.None);
        Assert.NotNull(first);
        await using (first)
        {
            using var second = await api.GetAsync(Route);
            var problem = await HttpAssert.ProblemAsync(second, HttpStatusCode.Conflict);
            Assert.Equal("Backup under way", problem.GetProperty("title").GetString());
        }

        using var third = await api.GetAsync(Route);
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
    }

    [Fact]
    public async Task A_backup_that_does_not_fit_on_the_disk_answers_503_with_SQLites_reason_and_leaves_no_file()
    {
        await using var gateway = new GatewayFactory(_dingTalk);
        using var api = gateway.CreateAdminClient();
        var backups = gateway.Services.GetRequiredService<SqliteBackup>();
        var folder = Directory.CreateTempSubdirectory("cg-backup-full-");
        try
        {
            // A file whose every write fails with ENOSPC, as on a full disk.
            var full = Path.Combine(folder.FullName, "cardgateway.db.backup-full.tmp");
            File.CreateSymbolicLink(full, "/dev/full");
            var beside = backups.NextFile;
            backups.NextFile = () => full;

            using var response = await api.GetAsync(Route);

            var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.Equal("Backup failed", problem.GetProperty("title").GetString());
            Assert.Contains("database or disk is full", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Empty(folder.EnumerateFileSystemInfos());
            Assert.True(File.Exists("/dev/full"));
            var failed = Assert.Single(gateway.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 4402);
            Assert.Equal(Serilog.Events.LogEventLevel.Error, failed.Level);
            Assert.Null(failed.Exception);
            Assert.Contains("database or disk is full", failed.RenderMessage(), StringComparison.Ordinal);

            // Nothing is left under way: the next backup, with room, is taken.
            backups.NextFile = beside;
            using var next = await api.GetAsync(Route);
            Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_backup_cancelled_while_SQLite_copies_stops_at_once_leaves_no_file_and_the_next_one_is_taken()
    {
        await using var gateway = new GatewayFactory(_dingTalk);
        using var api = gateway.CreateAdminClient();
        await SendPollAsync(api, "backup-cancelled");
        var backups = gateway.Services.GetRequiredService<SqliteBackup>();
        var database = gateway.Services.GetRequiredService<GatewayDatabase>();

        // The copy is cancelled while SQLite writes it: a database of some size keeps it busy for a while (measured by a
        // first backup taken whole), and the cancellation comes a third of the way in. Should a copy still end before the
        // cancellation reaches it (a machine short of CPU), the next try doubles the size.
        var cancelled = false;
        for (var megabytes = 128; megabytes <= 512 && !cancelled; megabytes *= 2)
        {
            await PadAsync(database, megabytes);
            TimeSpan whole;
            await using (var measured = await backups.TakeAsync(CancellationToken.None))
            {
                whole = measured!.Took;
            }

            using var caller = new CancellationTokenSource(whole / 3);
            try
            {
                await using var taken = await backups.TakeAsync(caller.Token);
                Assert.NotNull(taken); // it ended before the cancellation came: try again, bigger
            }
            catch (OperationCanceledException)
            {
                cancelled = true;
            }
        }

        Assert.True(cancelled, "no copy was cancelled while SQLite wrote it: the interrupt did not stop VACUUM INTO");
        Assert.Empty(FilesBeside(gateway)); // the copy and any journal of its own
        var abandoned = Assert.Single(gateway.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 4403);
        Assert.Equal(Serilog.Events.LogEventLevel.Information, abandoned.Level);
        Assert.DoesNotContain(gateway.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 4402);

        // Nothing is left under way, and the database is as it was: the next backup is taken, whole.
        using var next = await api.GetAsync(Route);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        var copy = NewDatabase();
        await File.WriteAllBytesAsync(copy, await next.Content.ReadAsByteArrayAsync());
        await using var connection = new SqliteConnection($"Data Source={copy};Pooling=False");
        Assert.Equal("ok", await connection.ExecuteScalarAsync<string>("PRAGMA integrity_check"));
        Assert.Equal(["backup-cancelled"], await connection.QueryAsync<string>("SELECT id FROM cards"));
    }

    /// <summary>Pages for a copy to write: a table of its own beside the gateway's, which no store reads.</summary>
    private static async Task PadAsync(GatewayDatabase database, int megabytes)
    {
        await using var connection = new SqliteConnection($"Data Source={database.SqliteFile};Pooling=False");
        await connection.OpenAsync();
        await connection.ExecuteAsync("PRAGMA busy_timeout=30000");
        await connection.ExecuteAsync("CREATE TABLE IF NOT EXISTS test_padding (blob BLOB NOT NULL)");
        await connection.ExecuteAsync("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @megabytes) INSERT INTO test_padding SELECT zeroblob(1048576) FROM n", new { megabytes });
    }

    [Fact]
    public async Task A_backup_file_left_by_a_gateway_killed_while_taking_it_is_removed_at_startup()
    {
        var database = NewDatabase();
        var left = database + ".backup-0123456789abcdef.tmp";
        await File.WriteAllTextAsync(left, "half a copy");
        await using var gateway = new GatewayFactory(_dingTalk, new Dictionary<string, string?> { ["Gateway:Storage:ConnectionString"] = $"Data Source={database}" });

        using var client = gateway.CreateClient(); // starts it

        Assert.False(File.Exists(left));
        Assert.Contains(gateway.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 4404);
    }

    [Fact]
    public async Task An_in_memory_database_is_not_backed_up_409()
    {
        await using var gateway = new GatewayFactory(_dingTalk, new Dictionary<string, string?> { ["Gateway:Storage:ConnectionString"] = "Data Source=:memory:" });
        using var api = gateway.CreateAdminClient();

        using var response = await api.GetAsync(Route);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Contains("in memory", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task On_PostgreSQL_a_backup_is_refused_409_pointing_to_pg_dump_naming_no_secret()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var settings = GatewayFactory.PostgresSettings(connectionString, GatewayFactory.LiveSettings(_dingTalk));
            await using var gateway = new GatewayFactory(_dingTalk, settings);
            using var api = gateway.CreateAdminClient();

            using var response = await api.GetAsync(Route);

            var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Conflict);
            var text = problem.GetRawText();
            Assert.Contains("pg_dump", text, StringComparison.Ordinal);
            var password = new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Password;
            Assert.False(string.IsNullOrEmpty(password) || text.Contains(password, StringComparison.Ordinal), "the answer names the database's password");
            Assert.DoesNotContain(new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Database!, text, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Swagger_documents_the_backup_as_a_SQLite_file_and_its_problems()
    {
        await using var gateway = new GatewayFactory(_dingTalk);
        using var client = gateway.CreateClient();

        var document = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

        var responses = document.GetProperty("paths").GetProperty(Route).GetProperty("get").GetProperty("responses");
        Assert.True(responses.GetProperty("200").GetProperty("content").TryGetProperty(StorageAdminEndpointsContentType, out _), responses.GetRawText());
        foreach (var status in new[] { "401", "409", "503" })
        {
            Assert.True(responses.TryGetProperty(status, out _), $"{status} not documented: {responses.GetRawText()}");
        }
    }

    private const string StorageAdminEndpointsContentType = "application/vnd.sqlite3";

    private string NewDatabase()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cg-backup-{Guid.NewGuid():N}.db");
        _databases.Add(path);
        return path;
    }

    /// <summary>Snapshot files beside the gateway's database.</summary>
    private static string[] FilesBeside(GatewayFactory gateway)
    {
        var database = gateway.Services.GetRequiredService<GatewayDatabase>().SqliteFile!;
        return Directory.GetFiles(Path.GetDirectoryName(database)!, Path.GetFileName(database) + ".backup-*");
    }

    /// <summary>The poll's tally is its ballots, option by option, and everyone's stored card shows it; every vote recorded is handled.</summary>
    private static async Task AssertConsistentAsync(SqliteConnection backup, string card)
    {
        var tally = await TallyAsync(backup, card);
        var ballots = (await backup.QueryAsync<(string CardId, string State)>(
                "SELECT card_id, state FROM handler_state WHERE handler = 'poll.ballot' AND card_id LIKE @prefix", new { prefix = $"{card.Length}:{card}/%" }))
            .ToDictionary(b => b.CardId[($"{card.Length}:{card}/".Length)..], b => JsonDocument.Parse(b.State).RootElement.GetProperty("option").GetString()!);
        Assert.Equal(ballots.Count, tally.Total);
        Assert.Equal(
            ballots.Values.GroupBy(o => o).ToDictionary(g => g.Key, g => g.Count()).OrderBy(p => p.Key),
            tally.Counts.Where(p => p.Value > 0).OrderBy(p => p.Key));

        var shown = JsonDocument.Parse(await backup.ExecuteScalarAsync<string>("SELECT public_data FROM cards WHERE id = @card", new { card }) ?? "{}").RootElement;
        Assert.Equal(tally.Total.ToString(System.Globalization.CultureInfo.InvariantCulture), shown.GetProperty("total").GetString());

        var callbacks = (await backup.QueryAsync<(string UserId, string Outcome)>("SELECT user_id, outcome FROM callbacks WHERE card_id = @card", new { card })).ToList();
        Assert.All(callbacks, c => Assert.Equal(nameof(CallbackOutcome.Handled), c.Outcome));
        Assert.Equal(ballots.Keys.Order(), callbacks.Select(c => c.UserId).Order()); // one vote per voter
    }

    private static async Task<(int Total, Dictionary<string, int> Counts)> TallyAsync(SqliteConnection backup, string card)
    {
        var state = await backup.ExecuteScalarAsync<string>("SELECT state FROM handler_state WHERE handler = 'poll' AND card_id = @card", new { card });
        var tally = JsonDocument.Parse(state!).RootElement;
        return (tally.GetProperty("total").GetInt32(), tally.GetProperty("counts").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32()));
    }

    private static async Task SendPollAsync(HttpClient api, string outTrackId)
    {
        using var response = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId, openConversationId = "cidBackup==", cardData = new { title = "Lunch?" } });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
    }

    /// <summary>One voter after another, each voting once, on the cards in turn, until told to stop; each answered vote is noted.</summary>
    private static async Task VoteUntilAsync(GatewayFactory gateway, string prefix, string[] cards, ConcurrentQueue<(string Card, string User)> answered, CancellationToken stop)
    {
        using var client = gateway.CreateClient();
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var (card, user) = (cards[i % cards.Length], $"{prefix}{i}");
            await VoteAsync(client, card, user);
            answered.Enqueue((card, user));
        }
    }

    private static async Task VoteAsync(HttpClient client, string card, string user)
    {
        var option = user.Length % 2 == 0 ? "a" : "b";
        using var request = DingTalkCallback.Signed(DingTalkCallback.Body(card, user, new { action = "vote", option }), GatewayFactory.ApiSecret);
        await HttpAssert.JsonAsync(await client.SendAsync(request), HttpStatusCode.OK);
    }
}
