using System.Globalization;
using Dapper;
using DingTalk.CardGateway.Handlers.Effects;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The effects table: a click's effects (<see cref="Handlers.CardActionResult.AfterCommit"/>) join its session's
/// transaction, so they exist exactly when the click is committed; the <see cref="EffectDispatcher"/> runs them.
/// </summary>
public sealed class SqlEffects(StorageSession session, EffectSignal signal, TimeProvider clock)
{
    internal const string Columns = "id, callback_id, effect_index, card_id, name, status, attempts, created_at, available_at, done_at, last_error, retried_at";
    private static readonly string UndoneSql = UndoneOfCard.Sql("effects", Columns);

    private const string Insert =
        """
        INSERT INTO effects (callback_id, effect_index, card_id, name, payload, status, attempts, created_at, available_at)
        VALUES (@CallbackId, @Index, @CardId, @Name, @Payload, 'Pending', 0, @Now, @Now)
        ON CONFLICT (callback_id, effect_index) DO NOTHING
        """;

    /// <summary>
    /// Queues a click's effects in the open transaction, numbered in the order the handler asked for them. On PostgreSQL
    /// they are written with the <c>COMMIT</c> (<see cref="StorageSession.WriteWithCommit"/>): no round trip of their own.
    /// </summary>
    public async Task QueueAsync(string callbackId, string cardId, IReadOnlyList<AfterCommitEffect> effects, CancellationToken cancellationToken)
    {
        if (!session.InTransaction)
        {
            throw new InvalidOperationException("Effects are queued in their click's transaction.");
        }

        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        for (var index = 0; index < effects.Count; index++)
        {
            (string, object?)[] parameters =
            [
                ("CallbackId", callbackId),
                ("Index", index),
                ("CardId", cardId),
                ("Name", effects[index].Effect),
                ("Payload", effects[index].Payload),
                ("Now", now),
            ];
            if (session.CanWriteWithCommit)
            {
                session.WriteWithCommit(Insert, parameters);
            }
            else
            {
                await session.WriteAsync((connection, transaction) => connection.RunAsync(transaction, Insert, cancellationToken, parameters), cancellationToken);
            }
        }
    }

    /// <summary>Wakes this replica's dispatcher: a click that queued effects has committed.</summary>
    public void Committed() => signal.Wake();

    /// <summary>The card's effects not done: its oldest 100 pending and its newest 100 dead, in id order.</summary>
    public Task<IReadOnlyList<EffectEntry>> UndoneForCardAsync(string cardId, CancellationToken cancellationToken) =>
        session.ReadAsync(
            async (connection, transaction) => (IReadOnlyList<EffectEntry>)(await connection.QueryAsync<EffectRow>(new CommandDefinition(
                UndoneSql,
                new { cardId },
                transaction,
                cancellationToken: cancellationToken))).Select(r => r.ToEntry()).ToList(),
            cancellationToken);

    /// <summary>The effect <paramref name="id"/>, or null when there is none (never run, or purged).</summary>
    public Task<EffectEntry?> FindAsync(long id, CancellationToken cancellationToken) =>
        session.ReadAsync(
            async (connection, transaction) => (await connection.QueryAsync<EffectRow>(new CommandDefinition(
                $"SELECT {Columns} FROM effects WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken))).FirstOrDefault()?.ToEntry(),
            cancellationToken);

    /// <summary>
    /// The dead effect <paramref name="id"/> is pending again, due now, its attempts kept (its runs go on counting from
    /// there) and its give-up clock restarted (<c>retried_at</c>): false when it is not dead (or not there). Its idempotency
    /// key, made of its click's id and its place, stays the same. Wakes this replica's dispatcher.
    /// </summary>
    public async Task<bool> RetryDeadAsync(long id, CancellationToken cancellationToken)
    {
        var retried = await WriteAsync(RetryDead + " AND id = @Id", ("Id", id), cancellationToken) > 0;
        if (retried)
        {
            signal.Wake();
        }

        return retried;
    }

    /// <summary>Every dead effect named <paramref name="effect"/> is run again, as <see cref="RetryDeadAsync"/>; how many.</summary>
    public async Task<int> RetryAllDeadAsync(string effect, CancellationToken cancellationToken)
    {
        var retried = await WriteAsync(RetryDead + " AND name = @Name", ("Name", effect), cancellationToken);
        if (retried > 0)
        {
            signal.Wake();
        }

        return retried;
    }

    /// <summary>
    /// The dead effect <paramref name="id"/> is dismissed: never run again, no longer counted as dead, purged by retention
    /// once <c>done_at</c> (now) is past it. False when it is not dead (or not there).
    /// </summary>
    public async Task<bool> DismissDeadAsync(long id, CancellationToken cancellationToken) =>
        await WriteAsync("UPDATE effects SET status = 'Dismissed', done_at = @Now WHERE status = 'Dead' AND id = @Id", ("Id", id), cancellationToken) > 0;

    private const string RetryDead = "UPDATE effects SET status = 'Pending', available_at = @Now, retried_at = @Now, owner = NULL WHERE status = 'Dead'";

    private Task<int> WriteAsync(string sql, (string, object?) parameter, CancellationToken cancellationToken) =>
        session.WriteAsync(
            (connection, transaction) => connection.RunAsync(transaction, sql, cancellationToken, ("Now", clock.GetUtcNow().ToUnixTimeMilliseconds()), parameter),
            cancellationToken);

    /// <summary>What every run of a click's effect number <paramref name="index"/> is given to deduplicate by.</summary>
    public static string IdempotencyKey(string callbackId, long index) => callbackId + ":" + index.ToString(CultureInfo.InvariantCulture);

    internal sealed class EffectRow
    {
        public long Id { get; init; }

        public string CallbackId { get; init; } = "";

        public long EffectIndex { get; init; }

        public string CardId { get; init; } = "";

        public string Name { get; init; } = "";

        public string Payload { get; init; } = "";

        public string Status { get; init; } = "";

        public int Attempts { get; init; }

        public long CreatedAt { get; init; }

        public long AvailableAt { get; init; }

        public long? DoneAt { get; init; }

        public string? LastError { get; init; }

        public long? RetriedAt { get; init; }

        public EffectEntry ToEntry()
        {
            var status = Enum.Parse<EffectStatus>(Status);
            return new(
                Id,
                CallbackId,
                CardId,
                Name,
                IdempotencyKey(CallbackId, EffectIndex),
                status,
                Attempts,
                DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
                status == EffectStatus.Pending ? DateTimeOffset.FromUnixTimeMilliseconds(AvailableAt) : null,
                DoneAt is { } done ? DateTimeOffset.FromUnixTimeMilliseconds(done) : null,
                LastError,
                RetriedAt is { } retried ? DateTimeOffset.FromUnixTimeMilliseconds(retried) : null);
        }
    }
}
