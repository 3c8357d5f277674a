namespace DingTalk.Sandbox.Stream;

/// <summary>One entry of <c>subscriptions</c> in the open-connection call: <c>{type, topic}</c>.</summary>
public sealed record StreamSubscription(string Type, string Topic);
