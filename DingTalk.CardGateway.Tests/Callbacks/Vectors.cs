using System.Text.Json;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>The published DingTalk vectors (copied from the shared vectors folder next to the tests).</summary>
public static class Vectors
{
    public static JsonElement Load(string name) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Callbacks", "Vectors", name))).RootElement.Clone();
}
