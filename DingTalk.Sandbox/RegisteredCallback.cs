namespace DingTalk.Sandbox;

/// <summary>Where DingTalk would send the HTTP callbacks of cards created with this <c>callbackRouteKey</c>.</summary>
public sealed record RegisteredCallback(string RouteKey, string CallbackUrl, string ApiSecret);
