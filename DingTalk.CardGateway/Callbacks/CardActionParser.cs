using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// Reads a card callback body into a <see cref="CardAction"/>, tolerant of every shape DingTalk has sent:
/// <c>content</c> or the older <c>value</c> (a JSON string parsed a second time, or an object), <c>params</c>
/// inside <c>cardPrivateData</c> or beside it, no <c>type</c>. Anything else odd yields one sentence saying what.
/// </summary>
public static class CardActionParser
{
    public const int MaxIdLength = 256;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    /// <param name="body">The raw body (HTTP) or the frame's <c>data</c> (Stream).</param>
    /// <param name="transport">How it arrived; a robot card is named by cardBizId (or outTrackId).</param>
    /// <param name="deliveryStamp">The signature timestamp (HTTP) or <c>messageId</c> (Stream): part of the callback id.</param>
    /// <param name="action">The callback, when the body makes sense.</param>
    /// <param name="problem">Otherwise one sentence on what is wrong, fit for a 400 answer (it never echoes the body).</param>
    public static bool TryParse(
        ReadOnlyMemory<byte> body,
        CallbackTransport transport,
        string? deliveryStamp,
        [NotNullWhen(true)] out CardAction? action,
        [NotNullWhen(false)] out string? problem)
    {
        action = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException ex)
        {
            problem = $"The body is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}).";
            return false;
        }

        using (document)
        {
            try
            {
                return TryRead(document.RootElement, transport, deliveryStamp, out action, out problem);
            }
            catch (InvalidOperationException)
            {
                // JSON allows "\ud800"; .NET strings from it do not.
                action = null;
                problem = JsonUnicode.Refusal("The body");
                return false;
            }
        }
    }

    private static bool TryRead(
        JsonElement root,
        CallbackTransport transport,
        string? deliveryStamp,
        [NotNullWhen(true)] out CardAction? action,
        [NotNullWhen(false)] out string? problem)
    {
        action = null;
        problem = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            problem = $"The body must be a JSON object, not {Describe(root.ValueKind)}.";
            return false;
        }

        var type = Text(root, "type", ref problem);
        var outTrackId = Text(root, "outTrackId", ref problem);
        var cardBizId = Text(root, "cardBizId", ref problem);
        var userId = Text(root, "userId", ref problem);
        var corpId = Text(root, "corpId", ref problem);
        var spaceType = Text(root, "spaceType", ref problem);
        var spaceId = Text(root, "spaceId", ref problem);
        if (problem is not null)
        {
            return false;
        }

        if (!TryReadType(type, out var actionType, out problem)
            || !TryReadContent(root, out var contentText, out var actionIds, out var parameters, out problem))
        {
            return false;
        }

        var cardId = transport == CallbackTransport.RobotHttp ? cardBizId ?? outTrackId : outTrackId;
        var idName = transport == CallbackTransport.RobotHttp ? "cardBizId (or outTrackId)" : "outTrackId";
        problem = string.IsNullOrEmpty(cardId) ? $"{idName} is required."
            : cardId.Length > MaxIdLength ? $"{idName} is longer than {MaxIdLength} characters."
            : string.IsNullOrEmpty(userId) && actionType == CardActionType.ActionCallback ? "userId is required."
            : userId?.Length > MaxIdLength ? $"userId is longer than {MaxIdLength} characters."
            : null;
        var actionName = parameters.TryGetProperty("action", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
        if (actionName?.Contains('\0', StringComparison.Ordinal) == true)
        {
            problem ??= "params.action must not contain the character U+0000.";
        }

        if (problem is not null)
        {
            return false;
        }

        action = new CardAction
        {
            CallbackId = CallbackIdOf(transport, cardId!, userId ?? "", contentText, deliveryStamp),
            Transport = transport,
            Type = actionType,
            CardId = cardId!,
            OutTrackId = outTrackId,
            CardBizId = transport == CallbackTransport.RobotHttp ? cardId : cardBizId,
            UserId = userId ?? "",
            CorpId = corpId,
            SpaceType = spaceType,
            SpaceId = spaceId,
            ActionIds = actionIds,
            Params = parameters,
            Action = actionName,
        };
        return true;
    }

    private static bool TryReadType(string? type, out CardActionType actionType, [NotNullWhen(false)] out string? problem)
    {
        problem = null;
        switch (type)
        {
            case null or "" or "actionCallback":
                actionType = CardActionType.ActionCallback;
                return true;
            case "dynamicDataCallback":
                actionType = CardActionType.DynamicDataCallback;
                return true;
            default:
                actionType = default;
                problem = "type must be actionCallback or dynamicDataCallback.";
                return false;
        }
    }

    /// <summary><c>content</c>, else <c>value</c>: a JSON string holding <c>{"cardPrivateData":{"actionIds":[…],"params":{…}}}</c>.</summary>
    private static bool TryReadContent(
        JsonElement root, out string contentText, out IReadOnlyList<string> actionIds, out JsonElement parameters, [NotNullWhen(false)] out string? problem)
    {
        contentText = "";
        actionIds = [];
        parameters = EmptyObject;
        problem = null;
        var name = "content";
        if (!root.TryGetProperty(name, out var content) || content.ValueKind == JsonValueKind.Null)
        {
            name = "value";
            if (!root.TryGetProperty(name, out content) || content.ValueKind == JsonValueKind.Null)
            {
                return true; // a bare acknowledgement-only callback: nothing to read
            }
        }

        JsonDocument? inner = null;
        try
        {
            switch (content.ValueKind)
            {
                case JsonValueKind.String:
                    contentText = content.GetString()!;
                    if (contentText.Length == 0)
                    {
                        return true;
                    }

                    try
                    {
                        inner = JsonDocument.Parse(contentText, DocumentOptions);
                    }
                    catch (JsonException)
                    {
                        problem = $"{name} must be a JSON string holding a JSON object; it does not parse as JSON.";
                        return false;
                    }

                    content = inner.RootElement;
                    break;
                case JsonValueKind.Object:
                    contentText = content.GetRawText();
                    break;
                default:
                    problem = $"{name} must be a JSON string (or object), not {Describe(content.ValueKind)}.";
                    return false;
            }

            if (content.ValueKind != JsonValueKind.Object)
            {
                problem = $"{name} must hold a JSON object, not {Describe(content.ValueKind)}.";
                return false;
            }

            // Documented both inside cardPrivateData and beside it; the inner one wins.
            var privateData = content.TryGetProperty("cardPrivateData", out var p) ? p : default;
            if (privateData.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.Object))
            {
                problem = $"{name}.cardPrivateData must be an object, not {Describe(privateData.ValueKind)}.";
                return false;
            }

            var ids = privateData.ValueKind == JsonValueKind.Object && privateData.TryGetProperty("actionIds", out var i) ? i : default;
            var found = privateData.ValueKind == JsonValueKind.Object && privateData.TryGetProperty("params", out var inside) ? inside
                : content.TryGetProperty("params", out var beside) ? beside
                : default;
            return TryReadActionIds(ids, out actionIds, out problem) && TryReadParams(found, out parameters, out problem);
        }
        finally
        {
            inner?.Dispose();
        }
    }

    private static bool TryReadActionIds(JsonElement ids, out IReadOnlyList<string> actionIds, [NotNullWhen(false)] out string? problem)
    {
        problem = null;
        actionIds = [];
        switch (ids.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return true;
            case JsonValueKind.String:
                actionIds = [ids.GetString()!];
                return true;
            case JsonValueKind.Array:
                var list = new List<string>(ids.GetArrayLength());
                foreach (var id in ids.EnumerateArray())
                {
                    if (id.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
                    {
                        problem = $"actionIds must hold strings, not {Describe(id.ValueKind)}.";
                        return false;
                    }

                    list.Add(id.ValueKind == JsonValueKind.String ? id.GetString()! : id.GetRawText());
                }

                actionIds = list;
                return true;
            default:
                problem = $"actionIds must be an array of strings, not {Describe(ids.ValueKind)}.";
                return false;
        }
    }

    private static bool TryReadParams(JsonElement found, out JsonElement parameters, [NotNullWhen(false)] out string? problem)
    {
        problem = null;
        parameters = EmptyObject;
        switch (found.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return true;
            case JsonValueKind.Object when !JsonUnicode.IsValid(found):
                problem = JsonUnicode.Refusal("params");
                return false;
            case JsonValueKind.Object:
                parameters = found.Clone();
                return true;
            default:
                problem = $"params must be a JSON object, not {Describe(found.ValueKind)}.";
                return false;
        }
    }

    /// <summary>A string property, or null when absent or null; any other kind is a problem.</summary>
    private static string? Text(JsonElement obj, string name, ref string? problem)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            var text = value.GetString()!;
            if (text.Contains('\0', StringComparison.Ordinal))
            {
                problem ??= $"{name} must not contain the character U+0000."; // PostgreSQL stores no NUL in text
                return null;
            }

            return text;
        }

        problem ??= $"{name} must be a string, not {Describe(value.ValueKind)}.";
        return null;
    }

    private static string CallbackIdOf(CallbackTransport transport, string cardId, string userId, string content, string? deliveryStamp)
    {
        var hash = ThreadHashes.Sha256();
        Span<byte> length = stackalloc byte[sizeof(int)];
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        try
        {
            hash.AppendData([(byte)transport]);
            foreach (var part in (ReadOnlySpan<string>)[cardId, userId, content, deliveryStamp ?? ""])
            {
                // Length-prefixed UTF-16: no two different tuples hash the same bytes, and no encoding pass.
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, part.Length);
                hash.AppendData(length);
                hash.AppendData(MemoryMarshal.AsBytes(part.AsSpan()));
            }

            hash.GetHashAndReset(digest);
        }
        catch
        {
            ThreadHashes.Discard();
            throw;
        }

        var id = Base64Url.EncodeToString(digest[..16]);

        // A signed HTTP delivery's timestamp (epoch ms) goes first, so ids grow with time: each new callback lands at
        // the end of the dedupe index, in a page SQLite has in memory, not on a random page of a large table
        // (4.8 µs against 17.7 µs an insert, bench/DingTalk.CardGateway.Benchmarks). A redelivery repeats the
        // timestamp, so it still finds its id. A Stream messageId carries no time and is hashed alone.
        return deliveryStamp is { Length: > 0 and <= 19 } stamp && transport != CallbackTransport.Stream && stamp.AsSpan().IndexOfAnyExceptInRange('0', '9') < 0
            ? $"{stamp.PadLeft(13, '0')}.{id}"
            : id;
    }

    /// <summary>The kind of a JSON value, never the value: <c>an object</c>, <c>a string</c> (also for params that do not bind, <c>ParamsAs</c>).</summary>
    internal static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
