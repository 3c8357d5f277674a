using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// An OpenAI-compatible chat API (as DashScope, DeepSeek, Ollama and vLLM serve it) on a real Kestrel socket at
/// 127.0.0.1: <c>POST {Endpoint}/chat/completions</c>, checked as strictly as the real API checks it (the bearer key, a
/// JSON body with <c>model</c>, <c>messages</c> of known roles with text content, <c>stream: true</c>), answered with
/// Server-Sent Events (<c>data: {chat.completion.chunk}</c> lines, then <c>data: [DONE]</c>), every answer with an
/// <c>x-request-id</c> header as the real API sends it; OpenAI's official Node SDK reads it as the real API's
/// (<c>conformance/official-openai-client.mjs</c>, OfficialOpenAiClientTests). What it answers is scripted
/// per question (the user message), so tests sharing it do not meet each other's answers.
/// </summary>
public sealed class FakeOpenAi : IAsyncDisposable
{
    public const string ApiKey = "sk-fake-llm-key-0123456789abcdef";

    private static readonly string[] Roles = ["system", "user", "assistant", "developer", "tool"];

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, ModelAnswer> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _aborted = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ChatRequest> _requests = new();

    private FakeOpenAi(WebApplication app)
    {
        _app = app;
        Endpoint = new Uri(LoopbackApp.Address(app).TrimEnd('/') + "/v1");
    }

    /// <summary>The API's base URL, as <c>Gateway:Handlers:Llm:Endpoint</c> takes it: <c>http://127.0.0.1:41234/v1</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>Every request that passed the checks, as it came.</summary>
    public IReadOnlyCollection<ChatRequest> Requests => _requests.ToArray();

    public static async Task<FakeOpenAi> StartAsync()
    {
        var builder = LoopbackApp.CreateBuilder();
        var app = builder.Build();
        FakeOpenAi? fake = null;
        app.MapPost("/v1/chat/completions", (HttpContext context) => fake!.CompleteAsync(context));
        await app.StartAsync();
        return fake = new FakeOpenAi(app);
    }

    /// <summary>What to answer the question <paramref name="question"/> (the user message); unscripted questions get "Hello" and " there".</summary>
    public void Answer(string question, ModelAnswer answer) => _answers[question] = answer;

    /// <summary>Completes when a request for <paramref name="question"/> scripted to stall was aborted by its client.</summary>
    public Task Aborted(string question) => _aborted.GetOrAdd(question, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private async Task CompleteAsync(HttpContext context)
    {
        // The real API names every answer, errors included; the official SDK reads it (requestID, request_id).
        context.Response.Headers["x-request-id"] = $"req_{Guid.NewGuid():N}";
        var authorization = context.Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            await ErrorAsync(context, 401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.", "invalid_request_error", null);
            return;
        }

        var presented = authorization["Bearer ".Length..];
        if (presented != ApiKey)
        {
            // Some compatible servers quote the key they refused in full: the gateway must not pass it on.
            await ErrorAsync(context, 401, $"Incorrect API key provided: {presented}.", "invalid_request_error", "invalid_api_key");
            return;
        }

        if (context.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            await ErrorAsync(context, 400, "Content-Type must be application/json.", "invalid_request_error", null);
            return;
        }

        JsonNode? body;
        try
        {
            body = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException)
        {
            await ErrorAsync(context, 400, "We could not parse the JSON body of your request.", "invalid_request_error", null);
            return;
        }

        if (Invalid(body) is { } problem)
        {
            await ErrorAsync(context, 400, problem, "invalid_request_error", null);
            return;
        }

        var request = new ChatRequest(
            body!["model"]!.GetValue<string>(),
            [.. body["messages"]!.AsArray().Select(m => new ChatMessageSent(m!["role"]!.GetValue<string>(), m["content"]!.GetValue<string>()))],
            body.ToJsonString());
        _requests.Enqueue(request);
        var question = request.Messages.LastOrDefault(m => m.Role == "user")?.Content ?? "";
        var answer = _answers.GetValueOrDefault(question) ?? new ModelAnswer(Chunks: ["Hello", " there"]);
        if (answer.Status != 200)
        {
            await ErrorAsync(context, answer.Status, answer.ErrorMessage ?? "The server had an error while processing your request.", "server_error", null);
            return;
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await ChunkAsync(context, request.Model, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null);
        foreach (var chunk in answer.Chunks ?? [])
        {
            await ChunkAsync(context, request.Model, new JsonObject { ["content"] = chunk }, null);
        }

        if (answer.Hold is { } hold)
        {
            await hold.WaitAsync(context.RequestAborted);
        }

        switch (answer.End)
        {
            case ModelEnd.BreakOff:
                context.Abort(); // the connection drops mid-answer (a reset: what the client had not read yet is lost, hence Hold)
                return;
            case ModelEnd.Stall:
                try
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    _aborted.GetOrAdd(question, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }

                return;
            default:
                await ChunkAsync(context, request.Model, new JsonObject(), "stop");
                await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
                return;
        }
    }

    /// <summary>What the real API would refuse with a 400; null when the body is a streaming chat request it takes.</summary>
    private static string? Invalid(JsonNode? body)
    {
        if (body is not JsonObject request)
        {
            return "The request body must be a JSON object.";
        }

        if (request["model"] is not JsonValue model || model.GetValueKind() != JsonValueKind.String || model.GetValue<string>().Length == 0)
        {
            return "you must provide a model parameter";
        }

        if (request["messages"] is not JsonArray { Count: > 0 } messages)
        {
            return "'messages' must be a non-empty array";
        }

        foreach (var message in messages)
        {
            if (message is not JsonObject m
                || m["role"] is not JsonValue role || role.GetValueKind() != JsonValueKind.String || !Roles.Contains(role.GetValue<string>())
                || m["content"] is not JsonValue content || content.GetValueKind() != JsonValueKind.String)
            {
                return $"Invalid message: {message?.ToJsonString()}";
            }
        }

        return request["stream"] is JsonValue stream && stream.GetValueKind() == JsonValueKind.True
            ? null
            : "this server only streams: 'stream' must be true";
    }

    private static async Task ChunkAsync(HttpContext context, string model, JsonObject delta, string? finishReason)
    {
        var chunk = new JsonObject
        {
            ["id"] = "chatcmpl-fake",
            ["object"] = "chat.completion.chunk",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
        };
        await context.Response.WriteAsync($"data: {chunk.ToJsonString()}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static async Task ErrorAsync(HttpContext context, int status, string message, string type, string? code)
    {
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new { error = new { message, type, param = (string?)null, code } }, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>A request the fake took: its model, messages and the whole body.</summary>
    public sealed record ChatRequest(string Model, IReadOnlyList<ChatMessageSent> Messages, string Body);

    public sealed record ChatMessageSent(string Role, string Content);
}

/// <summary>
/// How the fake answers one question: a status (an error body unless 200), the reply's chunks, and how the stream ends —
/// once <paramref name="Hold"/> completes, if given (so a test can see the chunks arrive before the connection drops).
/// </summary>
public sealed record ModelAnswer(int Status = 200, IReadOnlyList<string>? Chunks = null, ModelEnd End = ModelEnd.Done, string? ErrorMessage = null, Task? Hold = null);

public enum ModelEnd
{
    /// <summary>A last chunk with <c>finish_reason: stop</c>, then <c>data: [DONE]</c>.</summary>
    Done,

    /// <summary>The connection drops after the chunks.</summary>
    BreakOff,

    /// <summary>Nothing more after the chunks until the client gives up.</summary>
    Stall,
}
