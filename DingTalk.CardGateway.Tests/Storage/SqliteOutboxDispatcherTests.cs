using Dapper;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Storage;

public sealed class SqliteOutboxDispatcherTests(SqliteStorageFixture fixture)
    : OutboxDispatcherTests<SqliteStorageFixture>(fixture), IClassFixture<SqliteStorageFixture>
{
    [Fact]
    public async Task A_database_error_while_marking_a_delivered_update_leaves_it_pending_not_dead()
    {
        var card = await SavedCardAsync();
        var database = Fixture.Services.GetRequiredService<GatewayDatabase>();
        var api = new CardApi(card)
        {
            // DingTalk takes the update; the database then refuses, once, to mark it sent.
            Answer = async (_, call, _) =>
            {
                if (call > 1)
                {
                    return;
                }

                await using var connection = await database.OpenAsync(default);
                await connection.ExecuteAsync("""
                    CREATE TRIGGER refuse_sent BEFORE UPDATE OF status ON outbox WHEN NEW.status = 'Sent'
                    BEGIN SELECT RAISE(ABORT, 'the disk hiccupped'); END
                    """);
            },
        };
        await QueueAsync(Update(card, ("status", "approved")));
        var dispatcher = Dispatcher(api, new FakeTimeProvider(T0));

        try
        {
            await Assert.ThrowsAnyAsync<Exception>(() => dispatcher.RunOnceAsync(default)); // the dispatch loop's to retry
        }
        finally
        {
            await using var connection = await database.OpenAsync(default);
            await connection.ExecuteAsync("DROP TRIGGER IF EXISTS refuse_sent");
        }

        Assert.Equal(["Pending"], await StatusesAsync(card));
        await dispatcher.RunOnceAsync(default); // sent again: at least once
        Assert.Equal(2, api.Calls);
        Assert.Equal(["Sent"], await StatusesAsync(card));
    }
}
