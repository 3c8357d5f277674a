using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.Sandbox.Wire;
using static DingTalk.Sandbox.Wire.Field;
using static DingTalk.Sandbox.Wire.JsonShape;

namespace DingTalk.Sandbox.Stream;

/// <summary>
/// What DingTalk accepts as the answer to a frame: <c>{"code", "headers": {"contentType", "messageId", …},
/// "message", "data"}</c>, and for each kind of frame, what <c>data</c> must hold. Each check returns one sentence
/// on the first problem, or null.
/// </summary>
internal static class StreamAnswerCheck
{
    private static readonly string[] Envelope = ["code", "data", "headers", "message"];

    private static readonly ObjectShape CardUpdate = new(
        Optional("cardUpdateOptions", new ObjectShape(
            Optional("updateCardDataByKey", Flag),
            Optional("updatePrivateDataByKey", Flag))),
        Optional("cardData", new ObjectShape(Required("cardParamMap", TextMap))),
        Optional("userPrivateData", new ObjectShape(Required("cardParamMap", TextMap))));

    private static readonly string[] BareUpdateNames = ["cardData", "userPrivateData", "cardUpdateOptions", "privateData"];

    /// <summary>The envelope every answer shares.</summary>
    public static string? ReadEnvelope(string text, out SandboxStreamAnswer? answer, int connectionId, DateTimeOffset now)
    {
        answer = null;
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { AllowDuplicateProperties = false });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return $"the answer is not JSON: {e.Message}";
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return $"the answer must be a JSON object, not {Describe(root.ValueKind)}";
        }

        foreach (var property in root.EnumerateObject())
        {
            if (!Envelope.Contains(property.Name, StringComparer.Ordinal))
            {
                return $"unknown property '{property.Name}' in the answer (allowed: {string.Join(", ", Envelope)})";
            }
        }

        if (!root.TryGetProperty("code", out var codeValue) || codeValue.ValueKind != JsonValueKind.Number
            || !codeValue.TryGetInt32(out var code) || code is < 100 or > 599)
        {
            return "code must be an HTTP-style status number (200 for OK)";
        }

        if (!root.TryGetProperty("headers", out var headerValue) || headerValue.ValueKind != JsonValueKind.Object)
        {
            return "headers must be an object carrying messageId and contentType";
        }

        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var header in headerValue.EnumerateObject())
        {
            if (header.Value.ValueKind != JsonValueKind.String)
            {
                return $"headers.{header.Name} must be a string, not {Describe(header.Value.ValueKind)}";
            }

            headers[header.Name] = header.Value.GetString()!;
        }

        if (!headers.TryGetValue("messageId", out var messageId) || messageId.Length == 0)
        {
            return "headers.messageId is required: it names the frame being answered";
        }

        if (!headers.TryGetValue("contentType", out var contentType) || contentType != "application/json")
        {
            return "headers.contentType must be application/json";
        }

        if (!root.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.String)
        {
            return "message must be a string (\"OK\" for success)";
        }

        if (!root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.String)
        {
            return "data must be a string holding JSON (the answer's payload is JSON-encoded into it)";
        }

        answer = new SandboxStreamAnswer(connectionId, code, message.GetString()!, data.GetString()!, headers, text, now);
        return null;
    }

    /// <summary>What <c>data</c> must hold in a 200 answer to <paramref name="frame"/>; <paramref name="settles"/> is false for an EVENT answered LATER.</summary>
    public static string? CheckData(SandboxStreamMessage frame, SandboxStreamAnswer answer, out bool settles)
    {
        settles = true;
        if (answer.Code != 200)
        {
            return null; // the client could not handle it, and said so: DingTalk takes that as the answer
        }

        switch (frame.Type, frame.Topic)
        {
            case (StreamProtocol.System, StreamProtocol.PingTopic):
                return answer.Data == frame.Data ? null : $"a ping's answer must echo its data {frame.Data}, not {answer.Data}";
            case (StreamProtocol.System, _):
                return null;
            case (StreamProtocol.Event, _):
                return CheckEvent(answer.Data, out settles);
            case (StreamProtocol.Callback, StreamProtocol.CardCallbackTopic):
                return CheckCardCallback(answer.Data);
            default:
                return ParseObject(answer.Data, out var other) ?? (other.ContainsKey("response") ? null : "a CALLBACK answer's data must be {\"response\": …}");
        }
    }

    private static string? CheckEvent(string data, out bool settles)
    {
        settles = true;
        if (ParseObject(data, out var body) is { } problem)
        {
            return problem;
        }

        var status = body["status"] is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;
        settles = status != "LATER";
        return status is "SUCCESS" or "LATER" ? null : "an EVENT answer's data must be {\"status\": \"SUCCESS\"} (or \"LATER\" to ask for redelivery)";
    }

    private static string? CheckCardCallback(string data)
    {
        if (ParseObject(data, out var body) is { } problem)
        {
            return problem;
        }

        if (!body.ContainsKey("response"))
        {
            return body.Any(p => BareUpdateNames.Contains(p.Key, StringComparer.Ordinal))
                ? "data is a bare card update; DingTalk ignores it unless it is wrapped as {\"response\": <update>}"
                : "a card callback answer's data must be {\"response\": <update>}";
        }

        if (body.Count != 1)
        {
            return $"a card callback answer's data holds only response, not {string.Join(", ", body.Select(p => p.Key).Where(k => k != "response"))}";
        }

        var response = body["response"];
        if (response is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(response.ToJsonString());
        return CardUpdate.Check(document.RootElement, "response") is { } refused
            ? refused.Body["message"]?.GetValue<string>() ?? "response is not a card update"
            : null;
    }

    private static string? ParseObject(string data, out JsonObject body)
    {
        body = [];
        try
        {
            if (JsonNode.Parse(data, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) is JsonObject parsed)
            {
                body = parsed;
                return null;
            }

            return "data must be a string holding a JSON object";
        }
        catch (JsonException)
        {
            return "data must be a string holding a JSON object; it is not JSON";
        }
    }
}
