using System.Text.Json.Nodes;

namespace DingTalk.Sandbox;

/// <summary>
/// The body of <c>POST /sandbox/clicks</c>: who clicks which card with which <c>params</c>. An advanced card is named by
/// <see cref="OutTrackId"/>, a normal robot card by <see cref="CardBizId"/>.
/// </summary>
public sealed record SandboxClick(string? OutTrackId, string? CardBizId, string? UserId, JsonObject? Params);
