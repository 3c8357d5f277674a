using System.ClientModel;
using System.Runtime.CompilerServices;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Handlers.Typewriter;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>
/// The typewriter asking a real OpenAI-compatible API (<see cref="FakeOpenAi"/> on a socket) by configuration alone
/// (<c>Gateway:Handlers:Llm</c>), end to end: a click on "ask" streams the model's reply into the card.
/// </summary>
public class ModelTypewriterTests(ModelFixture fixture) : IClassFixture<ModelFixture>
{
    private FakeOpenAi Model => fixture.Model;

    [Fact]
    public async Task Asking_streams_the_models_reply_into_the_card_ending_with_its_chunks_joined()
    {
        var question = Question();
        string[] chunks = ["A card gateway", " sends cards,", " routes their clicks", " and updates them."];
        Model.Answer(question, new ModelAnswer(Chunks: chunks));
        await using var gateway = fixture.Start();

        var frames = await gateway.FramesWhenFinalizedAsync(await gateway.AskAsync(question));

        Assert.Equal(string.Concat(chunks), frames[^1].Content);
        Assert.False(frames[^1].IsError);
        Assert.Single(frames, f => f.IsFinalize);
        Assert.All(frames, f => Assert.StartsWith(f.Content, frames[^1].Content, StringComparison.Ordinal));
        var request = Assert.Single(Model.Requests, r => r.Messages.Any(m => m.Content == question));
        Assert.Equal(ModelGateway.Model, request.Model);
        Assert.Equal([new("system", ModelGateway.SystemPrompt), new("user", question)], request.Messages);
    }

    [Fact]
    public async Task The_reply_length_and_temperature_configured_reach_the_model()
    {
        var question = Question();
        await using var gateway = fixture.Start(new Dictionary<string, string?>
        {
            ["Gateway:Handlers:Llm:MaxOutputTokens"] = "321",
            ["Gateway:Handlers:Llm:Temperature"] = "0.25",
            ["Gateway:Handlers:Llm:SystemPrompt"] = "",
        });

        await gateway.FramesWhenFinalizedAsync(await gateway.AskAsync(question));

        var request = Assert.Single(Model.Requests, r => r.Messages.Any(m => m.Content == question));
        Assert.Equal([new("user", question)], request.Messages); // no system prompt: none sent
        using var body = System.Text.Json.JsonDocument.Parse(request.Body);
        Assert.Equal(321, body.RootElement.GetProperty("max_tokens").GetInt32()); // what every compatible server reads
        Assert.False(body.RootElement.TryGetProperty("max_completion_tokens", out _), "OpenAI refuses both at once");
        Assert.Equal(0.25, body.RootElement.GetProperty("temperature").GetDouble(), 3);
    }

    /// <summary>
    /// A refused key ends the text as any failing source does (6101, an error frame); the log says the status and the host,
    /// and never the key — though this server, as some do, quotes the key it refused.
    /// </summary>
    [Fact]
    public async Task A_model_refusing_the_key_ends_the_text_as_an_error_and_the_log_names_status_and_host_but_not_the_key()
    {
        const string WrongKey = "sk-wrong-key-for-the-model-987654321";
        var question = Question();
        await using var gateway = fixture.Start(new Dictionary<string, string?> { ["Gateway:Handlers:Llm:ApiKey"] = WrongKey });

        var frames = await gateway.FramesWhenFinalizedAsync(await gateway.AskAsync(question));

        Assert.True(frames[^1].IsError);
        Assert.Equal("", frames[^1].Content);
        var failed = await gateway.LoggedAsync(6101);
        Assert.Contains("401", failed.Exception!.Message, StringComparison.Ordinal);
        Assert.Contains(Model.Endpoint.Host, failed.Exception.Message, StringComparison.Ordinal);
        Assert.Contains(ModelGateway.Model, failed.Exception.Message, StringComparison.Ordinal);
        Assert.Contains("Incorrect API key provided", failed.Exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(WrongKey, gateway.RenderedLogs(), StringComparison.Ordinal);
        Assert.All(gateway.LogEvents, e => Assert.DoesNotContain(WrongKey, e.Exception?.ToString() ?? "", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(429, "Rate limit reached for requests")]
    [InlineData(503, "The engine is currently overloaded")]
    public async Task A_model_answering_an_error_status_ends_the_text_as_an_error_naming_the_status(int status, string says)
    {
        var question = Question();
        Model.Answer(question, new ModelAnswer(Status: status, ErrorMessage: says));
        await using var gateway = fixture.Start();

        var frames = await gateway.FramesWhenFinalizedAsync(await gateway.AskAsync(question));

        Assert.True(frames[^1].IsError);
        var failed = await gateway.LoggedAsync(6101);
        Assert.Contains($"answered {status}", failed.Exception!.Message, StringComparison.Ordinal);
        Assert.Contains(says, failed.Exception.Message, StringComparison.Ordinal);
        Assert.Contains(Model.Endpoint.Host, failed.Exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_whose_stream_breaks_off_ends_the_text_so_far_as_an_error()
    {
        var question = Question();
        var typed = new TaskCompletionSource();
        Model.Answer(question, new ModelAnswer(Chunks: ["Half", " an answer"], End: ModelEnd.BreakOff, Hold: typed.Task));
        await using var gateway = fixture.Start();
        var outTrackId = await gateway.AskAsync(question);
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(outTrackId)?.StreamingFrames is [.., { Content: "Half an answer" }], "the chunks typed");

        typed.SetResult();

        var frames = await gateway.FramesWhenFinalizedAsync(outTrackId);

        Assert.True(frames[^1].IsError);
        Assert.Equal("Half an answer", frames[^1].Content);
        var failed = await gateway.LoggedAsync(6101);
        Assert.Contains(Model.Endpoint.Host, failed.Exception!.Message, StringComparison.Ordinal);
        Assert.Contains("broke off after 2 chunk(s)", failed.Exception.Message, StringComparison.Ordinal);
    }

    /// <summary>The typewriter's time limit ends the text and aborts the HTTP request: the model stops spending tokens on it.</summary>
    [Fact]
    public async Task A_model_that_stalls_past_the_stream_timeout_has_its_request_aborted()
    {
        var question = Question();
        Model.Answer(question, new ModelAnswer(Chunks: ["Thinking"], End: ModelEnd.Stall));
        await using var gateway = fixture.Start(new Dictionary<string, string?> { ["Gateway:Handlers:StreamTimeout"] = "00:00:01" });

        var outTrackId = await gateway.AskAsync(question);

        await Model.Aborted(question).WaitAsync(TimeSpan.FromSeconds(30));
        var frames = await gateway.FramesWhenFinalizedAsync(outTrackId);
        Assert.True(frames[^1].IsError);
        Assert.Equal("Thinking", frames[^1].Content);
        await gateway.LoggedAsync(6103);
    }

    [Fact]
    public async Task The_startup_log_names_the_models_host_and_name_but_not_its_key()
    {
        await using var gateway = fixture.Start();
        await gateway.AskAsync(Question()); // started

        var said = (await gateway.LoggedAsync(6113)).RenderMessage();

        Assert.Contains(Model.Endpoint.Host, said, StringComparison.Ordinal);
        Assert.Contains(ModelGateway.Model, said, StringComparison.Ordinal);
        Assert.DoesNotContain(FakeOpenAi.ApiKey, gateway.RenderedLogs(), StringComparison.Ordinal);
    }

    /// <summary>An application's own <see cref="IChatClient"/> (any model client) is used, with no endpoint configured.</summary>
    [Fact]
    public async Task An_IChatClient_the_application_registers_is_asked_without_an_endpoint()
    {
        var question = Question();
        Model.Answer(question, new ModelAnswer(Chunks: ["From", " my client"]));
        await using var gateway = fixture.Start(
            new Dictionary<string, string?> { ["Gateway:Handlers:Llm:Endpoint"] = "", ["Gateway:Handlers:Llm:ApiKey"] = "", ["Gateway:Handlers:Llm:Model"] = "" },
            services => services.AddChatClient(OwnClient("my-model")));

        var frames = await gateway.FramesWhenFinalizedAsync(await gateway.AskAsync(question));

        Assert.Equal("From my client", frames[^1].Content);
        Assert.Equal("my-model", Assert.Single(Model.Requests, r => r.Messages.Any(m => m.Content == question)).Model);
        Assert.Contains("IChatClient", (await gateway.LoggedAsync(6113)).RenderMessage(), StringComparison.Ordinal);
    }

    /// <summary>With an endpoint configured too, the application's client wins, and the log says the endpoint goes unused.</summary>
    [Fact]
    public async Task An_IChatClient_the_application_registers_wins_over_the_configured_endpoint()
    {
        var question = Question();
        await using var gateway = fixture.Start(
            services: services => services.AddChatClient(OwnClient("my-model")));

        await gateway.FramesWhenFinalizedAsync(await gateway.AskAsync(question));

        Assert.Equal("my-model", Assert.Single(Model.Requests, r => r.Messages.Any(m => m.Content == question)).Model);
        Assert.Contains("my-model", (await gateway.LoggedAsync(6113)).RenderMessage(), StringComparison.Ordinal);
        await gateway.LoggedAsync(6114);
    }

    [Fact]
    public async Task An_ITextSource_the_application_registers_wins_over_a_chat_client_and_the_endpoint()
    {
        var question = Question();
        await using var gateway = fixture.Start(services: services =>
        {
            services.AddChatClient(OwnClient("my-model"));
            services.AddSingleton<ITextSource, OwnSource>();
        });

        var frames = await gateway.FramesWhenFinalizedAsync(await gateway.AskAsync(question));

        Assert.Equal($"Mine: {question}", frames[^1].Content);
        Assert.DoesNotContain(Model.Requests, r => r.Messages.Any(m => m.Content == question));
        Assert.Contains(nameof(OwnSource), (await gateway.LoggedAsync(6113)).RenderMessage(), StringComparison.Ordinal);
        await gateway.LoggedAsync(6114);
    }

    [Fact]
    public async Task Without_an_endpoint_or_a_client_the_typewriter_echoes()
    {
        var question = Question();
        await using var gateway = fixture.Start(new Dictionary<string, string?>
        {
            ["Gateway:Handlers:Llm:Endpoint"] = "",
            ["Gateway:Handlers:EchoWordDelay"] = "00:00:00",
        });

        var frames = await gateway.FramesWhenFinalizedAsync(await gateway.AskAsync(question));

        Assert.Equal(EchoTextSource.ReplyTo(question), frames[^1].Content);
        Assert.Contains("echo", (await gateway.LoggedAsync(6113)).RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 6114);
    }

    private static string Question() => $"What is a card gateway? ({Guid.NewGuid():N})";

    /// <summary>The application's own client: OpenAI's, against the same fake, asking another model.</summary>
    private IChatClient OwnClient(string model) =>
        new OpenAI.Chat.ChatClient(model, new ApiKeyCredential(FakeOpenAi.ApiKey), new OpenAIClientOptions { Endpoint = Model.Endpoint }).AsIChatClient();

    private sealed class OwnSource : ITextSource
    {
        public async IAsyncEnumerable<string> StreamAsync(string prompt, CardActionContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            yield return "Mine: ";
            yield return prompt;
        }
    }
}
