namespace DingTalk.Sandbox.Stream;

/// <summary>A well-formed answer a client sent for a frame: <c>{code, headers, message, data}</c>.</summary>
/// <param name="ConnectionId">The connection it came on.</param>
/// <param name="Code">200 for OK; a client's 4xx says it could not handle the frame.</param>
/// <param name="Headers">As sent; at least <c>messageId</c> and <c>contentType</c>.</param>
/// <param name="Data">The answer's <c>data</c> string, e.g. <c>{"response": {…}}</c> for a card callback.</param>
/// <param name="RawText">The frame as received.</param>
public sealed record SandboxStreamAnswer(
    int ConnectionId,
    int Code,
    string Message,
    string Data,
    IReadOnlyDictionary<string, string> Headers,
    string RawText,
    DateTimeOffset ReceivedAt)
{
    public string MessageId => Headers["messageId"];
}
