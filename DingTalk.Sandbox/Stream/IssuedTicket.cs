namespace DingTalk.Sandbox.Stream;

/// <summary>A ticket from the open-connection call: single use, short-lived, carrying what the client subscribed to.</summary>
internal sealed class IssuedTicket(string value, DateTimeOffset expiresAt, IReadOnlyList<StreamSubscription> subscriptions, string? ua)
{
    public string Value { get; } = value;

    public DateTimeOffset ExpiresAt { get; } = expiresAt;

    public IReadOnlyList<StreamSubscription> Subscriptions { get; } = subscriptions;

    public string? Ua { get; } = ua;

    public bool Used { get; set; }
}
