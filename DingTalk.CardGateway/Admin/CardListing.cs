using Dapper;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// <c>GET /api/cards</c>: the stored cards a page at a time, in id order, each with its count of updates not yet
/// delivered — for an operator looking for the cards behind <c>cardgateway.outbox.entries{status=dead}</c>.
/// </summary>
public sealed class CardListing(StorageSession session)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;

    /// <summary>Up to <paramref name="limit"/> cards with ids after <paramref name="after"/>; only those with updates in <paramref name="undelivered"/>, when given.</summary>
    public async Task<CardPage> PageAsync(string? after, int limit, OutboxStatus? undelivered, CancellationToken cancellationToken)
    {
        var rows = await session.ReadAsync(
            async (connection, transaction) => (await connection.QueryAsync<Row>(new CommandDefinition(
                $"""
                SELECT id, kind, template_id, version, created_at, updated_at, creation_confirmed,
                    (SELECT COUNT(*) FROM outbox WHERE outbox.status = 'Pending' AND outbox.card_id = cards.id) AS pending,
                    (SELECT COUNT(*) FROM outbox WHERE outbox.status = 'Dead' AND outbox.card_id = cards.id) AS dead
                FROM cards
                WHERE id > @after{(undelivered is null ? "" : " AND EXISTS (SELECT 1 FROM outbox WHERE outbox.status = @status AND outbox.card_id = cards.id)")}
                ORDER BY id
                LIMIT @take
                """,
                new { after = after ?? "", take = limit + 1, status = undelivered?.ToString() },
                transaction,
                cancellationToken: cancellationToken))).AsList(),
            cancellationToken);
        var page = rows.Take(limit).Select(r => r.ToSummary()).ToList();
        return new CardPage(page, rows.Count > limit ? page[^1].Id : null);
    }

    private sealed record Row
    {
        public string Id { get; init; } = "";

        public string Kind { get; init; } = "";

        public string TemplateId { get; init; } = "";

        public long Version { get; init; }

        public long CreatedAt { get; init; }

        public long UpdatedAt { get; init; }

        public long CreationConfirmed { get; init; }

        public long Pending { get; init; }

        public long Dead { get; init; }

        public CardSummary ToSummary() => new(
            Id,
            Enum.Parse<CardKind>(Kind),
            TemplateId,
            Version,
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt),
            CreationConfirmed != 0,
            Pending,
            Dead);
    }
}

/// <summary>A page of stored cards.</summary>
/// <param name="Cards">The page's cards, in id order.</param>
/// <param name="Next">The <c>after</c> that gets the next page; left out on the last page.</param>
public sealed record CardPage(IReadOnlyList<CardSummary> Cards, string? Next);

/// <summary>A stored card in a list: what it is, how far it has changed, and how many of its updates DingTalk has not taken yet.</summary>
public sealed record CardSummary(
    string Id,
    CardKind Kind,
    string TemplateId,
    long Version,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    bool CreationConfirmed,
    long PendingUpdates,
    long DeadUpdates);
