using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.Sandbox.Wire;
using Microsoft.AspNetCore.Http;
using static DingTalk.Sandbox.Wire.Field;
using static DingTalk.Sandbox.Wire.JsonShape;

namespace DingTalk.Sandbox.Stream;

/// <summary>
/// POST /v1.0/gateway/connections/open (no access token): the app's clientId/clientSecret and what it subscribes to
/// → <c>{endpoint, ticket}</c>. Field names as DingTalk's Stream SDKs send them (Java, Go, Node, Python).
/// </summary>
internal static class StreamApi
{
    private static readonly string[] SubscriptionTypes = [StreamProtocol.System, StreamProtocol.Event, StreamProtocol.Callback];

    private static readonly ObjectShape OpenConnection = new(
        Required("clientId", Text),
        Required("clientSecret", Text),
        Optional("ua", Text),
        Optional("localIp", Text),
        Optional("extras", TextMap),
        Required("subscriptions", ListOf(new ObjectShape(
            Required("type", Text),
            Required("topic", Text)))));

    public static SandboxAnswer Open(SandboxCall call, SandboxState state)
    {
        // DingTalk's SDKs all send it: without it the gateway may answer XML (a comment in the Node SDK).
        if (!call.Accept.Contains("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return SandboxAnswer.Error(
                StatusCodes.Status406NotAcceptable, "InvalidParameter.Accept", "send Accept: application/json (DingTalk may otherwise answer XML)");
        }

        if (call.ReadBody(OpenConnection, out var body) is { } invalid)
        {
            return invalid;
        }

        if (!IsApp(state.Options, body.Text("clientId")!, body.Text("clientSecret")!))
        {
            // Inference: the same code as the token API; DingTalk does not document this answer.
            return SandboxAnswer.Error(StatusCodes.Status400BadRequest, "invalidClientIdOrSecret", "invalid clientId or clientSecret");
        }

        var subscriptions = new List<StreamSubscription>();
        foreach (var item in body.GetProperty("subscriptions").EnumerateArray())
        {
            var type = item.Text("type")!;
            var topic = item.Text("topic")!;
            if (!SubscriptionTypes.Contains(type, StringComparer.Ordinal))
            {
                return SandboxAnswer.Invalid($"subscriptions[{subscriptions.Count}].type must be EVENT, CALLBACK or SYSTEM, not '{type}'");
            }

            if (type == StreamProtocol.Callback && !topic.StartsWith('/'))
            {
                return SandboxAnswer.Invalid($"subscriptions[{subscriptions.Count}].topic of a CALLBACK is an API path like {StreamProtocol.CardCallbackTopic}, not '{topic}'");
            }

            subscriptions.Add(new StreamSubscription(type, topic));
        }

        if (subscriptions.Count == 0)
        {
            return SandboxAnswer.Invalid("subscriptions must name at least one {type, topic}");
        }

        var ticket = state.Stream.IssueTicket(subscriptions, body.Text("ua"));
        var scheme = call.Origin.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? "wss" : "ws";
        var host = call.Origin[(call.Origin.IndexOf("://", StringComparison.Ordinal) + 3)..];
        return SandboxAnswer.Ok(new JsonObject
        {
            ["endpoint"] = state.Stream.EndpointOverride?.ToString() ?? $"{scheme}://{host}{call.Prefix}{StreamProtocol.ConnectPath}",
            ["ticket"] = ticket,
        });
    }

    private static bool IsApp(SandboxOptions options, string clientId, string clientSecret) =>
        clientId == options.AppKey
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(clientSecret), Encoding.UTF8.GetBytes(options.AppSecret));
}
