namespace DingTalk.Sandbox.Stream;

/// <summary>
/// Something a client sent that DingTalk would not accept (or would ignore): the tests assert there are none.
/// </summary>
/// <param name="ConnectionId">The connection it came on.</param>
/// <param name="MessageId">The frame it answered, when that could be read.</param>
/// <param name="Problem">One sentence on what is wrong.</param>
/// <param name="RawText">What was received (cut at 2,000 characters).</param>
public sealed record SandboxStreamProtocolError(int ConnectionId, string? MessageId, string Problem, string RawText, DateTimeOffset At);
