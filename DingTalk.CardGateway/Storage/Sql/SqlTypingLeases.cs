using Dapper;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The <c>typing_leases</c> table. Taking a card is one conditional upsert (insert, or take over a row that has expired
/// or is this owner's), so two replicas asking at once never both get it. A released row stays, free, with the time of
/// the card's last frame for its next owner. Each statement is a transaction of its own: on SQLite a turn in the group
/// commit (<see cref="StorageSession.ExecuteAsync"/>), never a second writer.
/// </summary>
public sealed class SqlTypingLeases(GatewayDatabase database, SqliteWriteBatcher batcher, TimeProvider clock) : ITypingLeases
{
    /// <summary>This owner: the process, and an instance of its own (<see cref="LeaseRenewal.NewOwner"/>).</summary>
    public string Owner { get; } = LeaseRenewal.NewOwner();

    public async Task<DateTimeOffset?> TryTakeAsync(string cardId, TimeSpan duration, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var session = new StorageSession(database, batcher);
        var lastFrameAt = await session.WriteAsync(
            (connection, transaction) => connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                """
                INSERT INTO typing_leases (card_id, owner, until_at, last_frame_at) VALUES (@cardId, @owner, @until, 0)
                ON CONFLICT (card_id) DO UPDATE SET owner = excluded.owner, until_at = excluded.until_at
                WHERE typing_leases.until_at < @now OR typing_leases.owner = excluded.owner
                RETURNING last_frame_at
                """,
                new { cardId, owner = Owner, until = (now + duration).ToUnixTimeMilliseconds(), now = now.ToUnixTimeMilliseconds() },
                transaction,
                cancellationToken: cancellationToken)),
            cancellationToken);
        return lastFrameAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null;
    }

    public async Task<bool> RenewAsync(string cardId, TimeSpan duration, CancellationToken cancellationToken) =>
        await WriteAsync(
            "UPDATE typing_leases SET until_at = @until WHERE card_id = @cardId AND owner = @owner",
            new { cardId, owner = Owner, until = (clock.GetUtcNow() + duration).ToUnixTimeMilliseconds() },
            cancellationToken) == 1;

    public Task ReleaseAsync(string cardId, DateTimeOffset lastFrameAt, CancellationToken cancellationToken) =>
        WriteAsync(
            "UPDATE typing_leases SET until_at = 0, last_frame_at = @lastFrameAt WHERE card_id = @cardId AND owner = @owner",
            new { cardId, owner = Owner, lastFrameAt = Math.Max(0, RoundedUp(lastFrameAt)) },
            cancellationToken);

    /// <summary>Whole milliseconds, rounded up: the next owner may wait a fraction of one too long, never too short.</summary>
    private static long RoundedUp(DateTimeOffset at)
    {
        var milliseconds = at.ToUnixTimeMilliseconds();
        return DateTimeOffset.FromUnixTimeMilliseconds(milliseconds) < at ? milliseconds + 1 : milliseconds;
    }

    private Task<int> WriteAsync(string sql, object parameters, CancellationToken cancellationToken) =>
        StorageSession.ExecuteAsync(database, batcher, sql, parameters, cancellationToken);
}
