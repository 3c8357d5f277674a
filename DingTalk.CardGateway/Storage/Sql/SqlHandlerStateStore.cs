using Dapper;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Handler state (a poll's votes, an approval's decision) as JSON per handler and card. An update locks the row
/// (PostgreSQL) or holds the write lock (SQLite), so the change function runs once and no vote is lost to a race.
/// </summary>
public sealed class SqlHandlerStateStore(StorageSession session, TimeProvider clock) : IHandlerStateStore
{
    public Task<TState?> GetAsync<TState>(string handler, string cardId, CancellationToken cancellationToken)
        where TState : class =>
        session.ReadAsync(
            async (connection, transaction) =>
            {
                var json = await connection.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
                    "SELECT state FROM handler_state WHERE handler = @handler AND card_id = @cardId",
                    new { handler, cardId },
                    transaction,
                    cancellationToken: cancellationToken));
                return json is null ? null : SqlJson.Read<TState>(json);
            },
            cancellationToken);

    public Task<TState> UpdateAsync<TState>(string handler, string cardId, Func<TState?, TState> change, CancellationToken cancellationToken)
        where TState : class =>
        session.WriteAsync(
            async (connection, transaction) =>
            {
                var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
                var key = new { handler, cardId, now };

                // Make sure the row exists, then lock it: two first votes on a new card cannot both see "no state".
                await connection.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO handler_state (handler, card_id, state, version, updated_at) VALUES (@handler, @cardId, NULL, 0, @now) ON CONFLICT (handler, card_id) DO NOTHING",
                    key,
                    transaction,
                    cancellationToken: cancellationToken));
                var json = await connection.QuerySingleAsync<string?>(new CommandDefinition(
                    $"SELECT state FROM handler_state WHERE handler = @handler AND card_id = @cardId{session.Dialect.ForUpdate}",
                    key,
                    transaction,
                    cancellationToken: cancellationToken));

                var updated = change(json is null ? null : SqlJson.Read<TState>(json));
                await connection.ExecuteAsync(new CommandDefinition(
                    "UPDATE handler_state SET state = @state, version = version + 1, updated_at = @now WHERE handler = @handler AND card_id = @cardId",
                    new { handler, cardId, now, state = SqlJson.Write(updated) },
                    transaction,
                    cancellationToken: cancellationToken));
                return updated;
            },
            cancellationToken);
}
