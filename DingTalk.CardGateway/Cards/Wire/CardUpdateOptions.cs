namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>Without these flags an update replaces the whole map.</summary>
public sealed record CardUpdateOptions(bool UpdateCardDataByKey, bool UpdatePrivateDataByKey);
