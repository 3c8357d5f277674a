using System.Net.Http.Json;
using System.Text.Json;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// Advanced cards as Sandbox mode's emulated DingTalk shows them (<c>GET /sandbox/cards</c>): what everyone sees, for a
/// handler's test beside <see cref="CardClick"/> (the README's "Testing a handler").
/// </summary>
public static class SandboxCards
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>The public data (<c>cardParamMap</c>) of card <paramref name="outTrackId"/> as the emulator has it; null while it has none.</summary>
    /// <param name="client">A client of the gateway in Sandbox mode (no admin key needed).</param>
    /// <param name="outTrackId">The card's id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public static async Task<IReadOnlyDictionary<string, string>?> CardDataAsync(HttpClient client, string outTrackId, CancellationToken cancellationToken = default) =>
        await FindAsync(client, outTrackId, cancellationToken) is { } card ? Map(card.GetProperty("cardData")) : null;

    /// <summary>
    /// What only <paramref name="userId"/> sees on card <paramref name="outTrackId"/> (<c>privateData[userId].cardParamMap</c>) as the
    /// emulator has it: what an update for everyone sent that user alone (<see cref="Handlers.EveryoneUpdate.WithPrivate"/>), or
    /// the card was created with for them; null while it has none. A clicker's private answer is in the answer, not here.
    /// </summary>
    /// <param name="client">A client of the gateway in Sandbox mode (no admin key needed).</param>
    /// <param name="outTrackId">The card's id.</param>
    /// <param name="userId">The user.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public static async Task<IReadOnlyDictionary<string, string>?> PrivateDataAsync(HttpClient client, string outTrackId, string userId, CancellationToken cancellationToken = default) =>
        await FindAsync(client, outTrackId, cancellationToken) is { } card && card.GetProperty("privateData").TryGetProperty(userId, out var data) ? Map(data) : null;

    private static async Task<JsonElement?> FindAsync(HttpClient client, string outTrackId, CancellationToken cancellationToken)
    {
        var sandbox = await client.GetFromJsonAsync<JsonElement>("/sandbox/cards", cancellationToken);
        foreach (var card in sandbox.GetProperty("cards").EnumerateArray())
        {
            if (card.GetProperty("outTrackId").GetString() == outTrackId)
            {
                return card;
            }
        }

        return null;
    }

    private static Dictionary<string, string> Map(JsonElement cardParamMap) =>
        cardParamMap.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);

    /// <summary>
    /// Waits until card <paramref name="outTrackId"/>'s public data satisfies <paramref name="until"/> — an update for
    /// everyone leaves after the clicker's answer, through the outbox — and returns it.
    /// </summary>
    /// <exception cref="TimeoutException">Not so within <paramref name="timeout"/> (5 s by default): says what the card showed last.</exception>
    public static async Task<IReadOnlyDictionary<string, string>> WaitForAsync(
        HttpClient client, string outTrackId, Func<IReadOnlyDictionary<string, string>, bool> until, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var data = await CardDataAsync(client, outTrackId, cancellationToken);
            if (data is not null && until(data))
            {
                return data;
            }

            if (DateTimeOffset.UtcNow >= deadline)
            {
                throw new TimeoutException(data is null
                    ? $"The sandbox has no card {outTrackId} (GET /sandbox/cards lists the cards it has)."
                    : $"Card {outTrackId} did not show what was waited for within {(timeout ?? DefaultTimeout).TotalSeconds:0.###} s; it shows {JsonSerializer.Serialize(data)}.");
            }

            await Task.Delay(Interval, cancellationToken);
        }
    }
}
