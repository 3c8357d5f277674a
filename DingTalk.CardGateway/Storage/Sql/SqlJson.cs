using System.Text.Json;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>JSON columns, written and read with the gateway's one set of JSON options.</summary>
internal static class SqlJson
{
    public static string Write<T>(T value) => JsonSerializer.Serialize(value, GatewayJson.Options);

    public static T Read<T>(string json) => JsonSerializer.Deserialize<T>(json, GatewayJson.Options)!;
}
