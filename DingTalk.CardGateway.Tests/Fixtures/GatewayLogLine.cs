using System.Text.Json;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>One line of a <see cref="GatewayProcess"/>'s log (<c>Gateway:LogFormat=Json</c>, Serilog's compact JSON).</summary>
/// <param name="Level">Information when the line names none, as compact JSON leaves it out.</param>
/// <param name="EventId">The event id, if the line has one.</param>
/// <param name="Message">The rendered message.</param>
public sealed record GatewayLogLine(string Level, int? EventId, string Message)
{
    /// <summary>Every JSON line of <paramref name="output"/>; a line that is not JSON (the runtime's own) is kept as an Information message.</summary>
    public static IReadOnlyList<GatewayLogLine> ParseAll(string output) =>
        [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Parse)];

    private static GatewayLogLine Parse(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            return new GatewayLogLine(
                root.TryGetProperty("@l", out var level) ? level.GetString()! : "Information",
                root.TryGetProperty(nameof(EventId), out var id) && id.ValueKind == JsonValueKind.Object && id.TryGetProperty("Id", out var number) ? number.GetInt32() : null,
                root.TryGetProperty("@m", out var message) ? message.GetString()! : line);
        }
        catch (JsonException)
        {
            return new GatewayLogLine("Information", null, line);
        }
    }
}
