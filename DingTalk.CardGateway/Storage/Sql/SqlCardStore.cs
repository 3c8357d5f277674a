using Dapper;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>Cards in SQLite or PostgreSQL; an update lands only on the version it was computed from, so concurrent changes never overwrite each other.</summary>
public sealed class SqlCardStore(StorageSession session, TimeProvider clock) : ICardStore
{
    private const string Columns = "id, kind, template_id, callback_type, open_space_id, public_data, private_data, version, created_at, updated_at";

    /// <summary>The card as this scope last read or wrote it: a hint for <see cref="ApplyUpdateAsync"/>, checked by version.</summary>
    private CardRecord? _seen;
    private bool _seenLocked;

    public Task SaveAsync(CardRecord card, CancellationToken cancellationToken) =>
        session.WriteAsync(
            (connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
                $"""
                INSERT INTO cards ({Columns})
                VALUES (@Id, @Kind, @TemplateId, @CallbackType, @OpenSpaceId, @PublicData, @PrivateData, @Version, @CreatedAt, @UpdatedAt)
                ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, template_id = excluded.template_id,
                    callback_type = excluded.callback_type, open_space_id = excluded.open_space_id,
                    public_data = excluded.public_data, private_data = excluded.private_data,
                    version = excluded.version, updated_at = excluded.updated_at
                """,
                CardRow.From(card),
                transaction,
                cancellationToken: cancellationToken)),
            cancellationToken);

    public async Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken)
    {
        _seenLocked = false;
        return _seen = await session.ReadAsync(
            async (connection, transaction) => (await connection.QuerySingleOrDefaultAsync<CardRow>(new CommandDefinition(
                $"SELECT {Columns} FROM cards WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken)))?.ToRecord(),
            cancellationToken);
    }

    /// <remarks>
    /// On SQLite a callback has just read the card to route it under the write lock, so the change is written against
    /// that copy on the condition that the version is still the one read. On PostgreSQL that read took no lock (a hot
    /// card would almost always have moved on), so the row is read and locked first, as it is whenever the condition
    /// fails.
    /// </remarks>
    public Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken) =>
        session.WriteAsync(
            async (connection, transaction) =>
            {
                var card = _seen is { } seen && string.Equals(seen.Id, id, StringComparison.Ordinal) && (_seenLocked || session.Dialect.SingleWriter)
                    ? seen
                    : await ReadForUpdateAsync(id, connection, transaction, cancellationToken);
                while (card is not null)
                {
                    var updated = change.ApplyTo(card, clock.GetUtcNow());
                    var row = CardRow.From(updated);
                    var written = await connection.ExecuteAsync(new CommandDefinition(
                        "UPDATE cards SET public_data = @PublicData, private_data = @PrivateData, version = @Version, updated_at = @UpdatedAt WHERE id = @Id AND version = @Read",
                        new { row.PublicData, row.PrivateData, row.Version, row.UpdatedAt, row.Id, Read = card.Version },
                        transaction,
                        cancellationToken: cancellationToken));
                    if (written == 1)
                    {
                        (_seen, _seenLocked) = (updated, true);
                        return updated;
                    }

                    card = await ReadForUpdateAsync(id, connection, transaction, cancellationToken);
                }

                return null;
            },
            cancellationToken);

    private async Task<CardRecord?> ReadForUpdateAsync(string id, System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, CancellationToken cancellationToken)
    {
        var card = (await connection.QuerySingleOrDefaultAsync<CardRow>(new CommandDefinition(
            $"SELECT {Columns} FROM cards WHERE id = @id{session.Dialect.ForUpdate}", new { id }, transaction, cancellationToken: cancellationToken)))?.ToRecord();
        (_seen, _seenLocked) = (card, true);
        return card;
    }

    /// <summary>The row as Dapper maps it (snake_case columns aliased by position-free names).</summary>
    private sealed class CardRow
    {
        public string Id { get; init; } = "";

        public string Kind { get; init; } = "";

        public string TemplateId { get; init; } = "";

        public string? CallbackType { get; init; }

        public string? OpenSpaceId { get; init; }

        public string PublicData { get; init; } = "{}";

        public string PrivateData { get; init; } = "{}";

        public long Version { get; init; }

        public long CreatedAt { get; init; }

        public long UpdatedAt { get; init; }

        public static CardRow From(CardRecord card) => new()
        {
            Id = card.Id,
            Kind = card.Kind.ToString(),
            TemplateId = card.TemplateId,
            CallbackType = card.CallbackType,
            OpenSpaceId = card.OpenSpaceId,
            PublicData = SqlJson.Write(card.PublicData),
            PrivateData = SqlJson.Write(card.PrivateData),
            Version = card.Version,
            CreatedAt = card.CreatedAt.ToUnixTimeMilliseconds(),
            UpdatedAt = card.UpdatedAt.ToUnixTimeMilliseconds(),
        };

        public CardRecord ToRecord() => new()
        {
            Id = Id,
            Kind = Enum.Parse<CardKind>(Kind),
            TemplateId = TemplateId,
            CallbackType = CallbackType,
            OpenSpaceId = OpenSpaceId,
            PublicData = SqlJson.Read<Dictionary<string, string>>(PublicData),
            PrivateData = SqlJson.Read<Dictionary<string, Dictionary<string, string>>>(PrivateData)
                .ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, string>)p.Value),
            Version = Version,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt),
        };
    }
}
