using System.Text.Json.Nodes;

namespace DingTalk.Sandbox.Stream;

/// <summary>The body of <c>POST /sandbox/stream/clicks</c>: who clicks which card, with which <c>params</c>.</summary>
public sealed record SandboxStreamClick(string? OutTrackId, string? UserId, JsonObject? Params);
