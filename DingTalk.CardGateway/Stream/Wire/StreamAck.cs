namespace DingTalk.CardGateway.Stream.Wire;

/// <summary>
/// The answer to one frame: <c>{"code":200,"headers":{"contentType":"application/json","messageId":…},
/// "message":"OK","data":"&lt;JSON string&gt;"}</c>.
/// </summary>
public sealed record StreamAck(int Code, StreamAckHeaders Headers, string Message, string Data)
{
    public static StreamAck Ok(string messageId, string data) => new(200, new StreamAckHeaders("application/json", messageId), "OK", data);

    /// <summary>A refusal: <paramref name="message"/> says why, <c>data</c> is empty (as DingTalk's own SDKs answer).</summary>
    public static StreamAck Error(int code, string messageId, string message) => new(code, new StreamAckHeaders("application/json", messageId), message, "");
}
