namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>On a conflict DingTalk answers with the URL and secret already registered.</summary>
public sealed record RegisterCallbackResult(string? CallbackUrl, string? ApiSecret);
