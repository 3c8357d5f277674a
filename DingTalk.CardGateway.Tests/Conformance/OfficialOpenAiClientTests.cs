using System.Text.Json;
using DingTalk.CardGateway.Tests.Fixtures;
using Xunit.Abstractions;

namespace DingTalk.CardGateway.Tests.Conformance;

/// <summary>
/// OpenAI's official Node SDK (<c>openai</c>, pinned in <c>conformance/package.json</c>) against the fake
/// OpenAI-compatible chat API the typewriter's tests use (<see cref="FakeOpenAi"/>): it streams a completion, rebuilds it
/// with the SDK's own accumulator and reads a refused key and a server error. If the fake refused what the real client
/// sends, or answered in a shape the real client cannot read, this fails. Needs <c>node</c> (and <c>npm</c> the first time) on PATH.
/// </summary>
public sealed class OfficialOpenAiClientTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Model = "qwen-conformance";
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(60);
    private static readonly string[] Streamed = ["Hel", "lo, ", "wörld ", "— 你好", "!"];

    private FakeOpenAi _openAi = null!;

    public async Task InitializeAsync() => _openAi = await FakeOpenAi.StartAsync();

    public async Task DisposeAsync() => await _openAi.DisposeAsync();

    [Fact]
    public async Task Official_OpenAI_Node_SDK_streams_a_completion_and_reads_the_errors_of_the_fake()
    {
        _openAi.Answer("conformance: stream", new ModelAnswer(Chunks: Streamed));
        _openAi.Answer("conformance: helper", new ModelAnswer(Chunks: ["Short", " answer."]));
        _openAi.Answer("conformance: overloaded", new ModelAnswer(Status: 503, ErrorMessage: "The engine is currently overloaded, please try again later."));

        await using var run = await NodeScript.StartAsync(
            "openai", "official-openai-client.mjs", _openAi.Endpoint.ToString(), FakeOpenAi.ApiKey, Model);
        await run.WaitForExitAsync(ScriptTimeout);

        output.WriteLine(run.StdOut);
        Assert.True(run.ExitCode == 0, $"official-openai-client.mjs exited {run.ExitCode}\n{run.StdOut}\n{run.StdErr}");
        using var summary = JsonDocument.Parse(run.StdOut.Trim().Split('\n')[^1]);
        var results = summary.RootElement;
        Assert.True(results.GetProperty("ok").GetBoolean());

        var stream = results.GetProperty("stream");
        Assert.Equal(Streamed, stream.GetProperty("deltas").EnumerateArray().Select(d => d.GetString()).ToArray());
        Assert.Equal(string.Concat(Streamed), stream.GetProperty("text").GetString());
        Assert.Equal("stop", stream.GetProperty("finishReason").GetString());
        Assert.Equal("Short answer.", results.GetProperty("helper").GetProperty("text").GetString());

        var wrongKey = results.GetProperty("wrongKey");
        Assert.Equal("AuthenticationError", wrongKey.GetProperty("kind").GetString());
        Assert.Equal(401, wrongKey.GetProperty("status").GetInt32());
        Assert.Equal($"Incorrect API key provided: {FakeOpenAi.ApiKey}-wrong.", wrongKey.GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", wrongKey.GetProperty("type").GetString());
        Assert.Equal("invalid_api_key", wrongKey.GetProperty("code").GetString());

        var serverError = results.GetProperty("serverError");
        Assert.Equal("InternalServerError", serverError.GetProperty("kind").GetString());
        Assert.Equal(503, serverError.GetProperty("status").GetInt32());
        Assert.Equal("The engine is currently overloaded, please try again later.", serverError.GetProperty("message").GetString());
        Assert.Equal("server_error", serverError.GetProperty("type").GetString());

        // The fake's checks took what the official client sent (the refused key never gets that far).
        var requests = _openAi.Requests.ToArray();
        Assert.Equal(["conformance: stream", "conformance: helper", "conformance: overloaded"], requests.Select(r => r.Messages[^1].Content).ToArray());
        Assert.All(requests, r => Assert.Equal(Model, r.Model));
        Assert.All(requests, r => Assert.Equal(["system", "user"], r.Messages.Select(m => m.Role).ToArray()));
    }
}
