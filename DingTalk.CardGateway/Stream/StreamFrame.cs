using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace DingTalk.CardGateway.Stream;

/// <summary>
/// A frame from DingTalk: <c>{"specVersion":"1.0","type":"SYSTEM|EVENT|CALLBACK","headers":{"topic","messageId",
/// "contentType","time",…},"data":"&lt;JSON string&gt;"}</c>.
/// </summary>
/// <param name="Type"><c>SYSTEM</c>, <c>EVENT</c> or <c>CALLBACK</c>.</param>
/// <param name="Topic"><c>headers.topic</c>, e.g. <c>ping</c> or <c>/v1.0/card/instances/callback</c>.</param>
/// <param name="MessageId"><c>headers.messageId</c>: the answer names it; redeliveries repeat it.</param>
/// <param name="Data">The <c>data</c> string as sent (a JSON text to parse again, or an echo payload for a ping).</param>
public sealed record StreamFrame(string Type, string Topic, string MessageId, string Data)
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>Reads a frame; without a <c>messageId</c> it cannot be answered, so that is a problem too.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> utf8, [NotNullWhen(true)] out StreamFrame? frame, [NotNullWhen(false)] out string? problem)
    {
        frame = null;
        try
        {
            using var document = JsonDocument.Parse(utf8, DocumentOptions);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "the frame is not a JSON object";
                return false;
            }

            var headers = root.TryGetProperty("headers", out var h) && h.ValueKind == JsonValueKind.Object ? h : default;
            var messageId = headers.ValueKind == JsonValueKind.Object ? Text(headers, "messageId") : null;
            if (string.IsNullOrEmpty(messageId))
            {
                problem = "the frame has no headers.messageId, so it cannot be answered";
                return false;
            }

            frame = new StreamFrame(
                Text(root, "type") ?? "",
                Text(headers, "topic") ?? "",
                messageId,
                root.TryGetProperty("data", out var data) ? (data.ValueKind == JsonValueKind.String ? data.GetString()! : data.GetRawText()) : "");
            problem = null;
            return true;
        }
        catch (JsonException ex)
        {
            problem = $"the frame is not valid JSON (byte {ex.BytePositionInLine + 1} of line {ex.LineNumber + 1})";
            return false;
        }
        catch (InvalidOperationException)
        {
            // GetString refuses an escaped half of a surrogate pair; left to the receive loop, it would drop the connection.
            problem = "a string in the frame holds half a surrogate pair, so it cannot be read";
            return false;
        }
    }

    private static string? Text(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number => value.GetRawText(),
                _ => null,
            }
            : null;
}
