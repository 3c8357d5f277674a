namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>DingTalk's <c>{"cardParamMap": {…}}</c>; every value is a string.</summary>
public sealed record CardData(IReadOnlyDictionary<string, string> CardParamMap);
