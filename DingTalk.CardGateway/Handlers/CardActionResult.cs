namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// A handler's verdict: an update for the clicker (in the answer), for everyone (after the answer), text to
/// stream into the card, any combination, or <see cref="None"/>.
/// </summary>
public sealed record CardActionResult
{
    /// <summary>Acknowledge without changing the card: DingTalk gets <c>{}</c>.</summary>
    public static CardActionResult None { get; } = new();

    public ClickerUpdate? Clicker { get; init; }

    public EveryoneUpdate? Everyone { get; init; }

    public CardTextStream? Stream { get; init; }

    public static CardActionResult ForClicker(ClickerUpdate update) => new() { Clicker = update };

    public static CardActionResult ForEveryone(EveryoneUpdate update) => new() { Everyone = update };

    public static CardActionResult StreamText(string key, IAsyncEnumerable<string> chunks) => new() { Stream = new CardTextStream(key, chunks) };

    public CardActionResult AndForClicker(ClickerUpdate update) => this with { Clicker = update };

    public CardActionResult AndForEveryone(EveryoneUpdate update) => this with { Everyone = update };

    public CardActionResult AndStreamText(string key, IAsyncEnumerable<string> chunks) => this with { Stream = new CardTextStream(key, chunks) };
}
