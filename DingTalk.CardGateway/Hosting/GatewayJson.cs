using System.Text.Json;
using System.Text.Json.Serialization;

namespace DingTalk.CardGateway.Hosting;

/// <summary>The one set of JSON options: DingTalk's camelCase, nulls left out.</summary>
public static class GatewayJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Applies the gateway's conventions to an options instance owned by someone else (ASP.NET Core, Refit).</summary>
    public static void Apply(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.PropertyNameCaseInsensitive = true;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.MaxDepth = 64;
        options.Converters.Add(new JsonStringEnumConverter());
    }

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Apply(options);
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
