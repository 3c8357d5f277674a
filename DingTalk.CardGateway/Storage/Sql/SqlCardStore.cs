using Dapper;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>Cards in SQLite or PostgreSQL; updates lock the card's row so concurrent changes never overwrite each other.</summary>
public sealed class SqlCardStore(StorageSession session, TimeProvider clock) : ICardStore
{
    private const string Columns = "id, kind, template_id, callback_type, open_space_id, public_data, private_data, version, created_at, updated_at";

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

    public Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken) =>
        session.ReadAsync(
            async (connection, transaction) => (await connection.QuerySingleOrDefaultAsync<CardRow>(new CommandDefinition(
                $"SELECT {Columns} FROM cards WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken)))?.ToRecord(),
            cancellationToken);

    public Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken) =>
        session.WriteAsync(
            async (connection, transaction) =>
            {
                var row = await connection.QuerySingleOrDefaultAsync<CardRow>(new CommandDefinition(
                    $"SELECT {Columns} FROM cards WHERE id = @id{session.Dialect.ForUpdate}", new { id }, transaction, cancellationToken: cancellationToken));
                if (row is null)
                {
                    return null;
                }

                var updated = change.ApplyTo(row.ToRecord(), clock.GetUtcNow());
                await connection.ExecuteAsync(new CommandDefinition(
                    "UPDATE cards SET public_data = @PublicData, private_data = @PrivateData, version = @Version, updated_at = @UpdatedAt WHERE id = @Id",
                    CardRow.From(updated),
                    transaction,
                    cancellationToken: cancellationToken));
                return updated;
            },
            cancellationToken);

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
