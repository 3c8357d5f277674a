namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// What a card's <c>GET /api/cards/{id}</c> shows of a table of work not done yet (the outbox's entries, the effects):
/// the oldest 100 pending (the ones the rest wait behind) and the newest 100 dead, in id order — so a card refused a
/// hundred times long ago still shows today's refusal and what waits now, not only the old failures.
/// </summary>
internal static class UndoneOfCard
{
    /// <summary>The query, on <paramref name="table"/>'s <paramref name="columns"/>, for the card named <c>@cardId</c>.</summary>
    public static string Sql(string table, string columns) =>
        $"""
        SELECT {columns} FROM (
            SELECT * FROM (SELECT {columns} FROM {table} WHERE status = 'Pending' AND card_id = @cardId ORDER BY id LIMIT 100) pending
            UNION ALL
            SELECT * FROM (SELECT {columns} FROM {table} WHERE status = 'Dead' AND card_id = @cardId ORDER BY id DESC LIMIT 100) dead
        ) undone ORDER BY id
        """;
}
