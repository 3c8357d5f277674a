using System.ClientModel;
using System.Runtime.CompilerServices;
using System.Text.Json;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Handlers.Typewriter;

/// <summary>
/// The typewriter's text from a chat model, through any <see cref="IChatClient"/>: the configured OpenAI-compatible
/// endpoint (<see cref="LlmOptions"/>), or one the application registered in DI. Sends the system prompt, if any, and the
/// question, and yields the streamed reply's text as it comes. The typewriter's token (its time limit, a refused frame,
/// the gateway stopping) aborts the request. A failure of the model ends the text as an error, as any source's does: it is
/// thrown as a <see cref="ModelRequestException"/> naming the model, its host and the status, masked of the process's secrets.
/// </summary>
public sealed class ChatClientTextSource(IChatClient chatClient, IOptionsMonitor<LlmOptions> options, SecretMasker masker) : ITextSource
{
    /// <summary>The longest part of a model's error body quoted in the exception when it is not OpenAI's <c>{"error": {"message": …}}</c>.</summary>
    private const int MaxQuotedBody = 300;

    /// <summary>The client the text comes from.</summary>
    internal IChatClient ChatClient => chatClient;

    /// <summary>True when <see cref="ChatClient"/> is the one made from <c>Gateway:Handlers:Llm:Endpoint</c>.</summary>
    internal bool FromEndpoint { get; init; }

    /// <summary>The model asked, as the client reports it (the configured endpoint's is <c>Gateway:Handlers:Llm:Model</c>); null when it does not say.</summary>
    internal string? Model => Metadata?.DefaultModelId;

    /// <summary>The host the client calls, as it reports it; null when it does not say.</summary>
    internal string? Host => Metadata?.ProviderUri?.Host;

    private ChatClientMetadata? Metadata => chatClient.GetService<ChatClientMetadata>();

    public async IAsyncEnumerable<string> StreamAsync(string prompt, CardActionContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        List<ChatMessage> messages = string.IsNullOrWhiteSpace(o.SystemPrompt)
            ? [new(ChatRole.User, prompt)]
            : [new(ChatRole.System, o.SystemPrompt), new(ChatRole.User, prompt)];
        var chatOptions = new ChatOptions { Temperature = o.Temperature };
        if (FromEndpoint && o.MaxOutputTokens is { } max)
        {
            chatOptions.RawRepresentationFactory = _ => CompatibleMaxTokens(max);
        }
        else
        {
            chatOptions.MaxOutputTokens = o.MaxOutputTokens;
        }

        var chunks = 0;
        await using var updates = chatClient.GetStreamingResponseAsync(messages, chatOptions, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            ChatResponseUpdate update;
            try
            {
                if (!await updates.MoveNextAsync())
                {
                    yield break;
                }

                update = updates.Current;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                throw Failure(ex, chunks);
            }

            if (update.Text is { Length: > 0 } text)
            {
                chunks++;
                yield return text;
            }
        }
    }

    /// <summary>
    /// The reply's length limit as <c>max_tokens</c>, which every OpenAI-compatible server reads (DashScope, DeepSeek,
    /// Ollama, vLLM, Azure OpenAI), not OpenAI's newer <c>max_completion_tokens</c>, which some of them ignore.
    /// </summary>
    private static OpenAI.Chat.ChatCompletionOptions CompatibleMaxTokens(int max)
    {
        var options = new OpenAI.Chat.ChatCompletionOptions();
#pragma warning disable SCME0001 // JsonPatch is the library's one way to set a field it does not model; the package version is pinned, and a test checks the wire
        options.Patch.Set("$.max_tokens"u8, max);
#pragma warning restore SCME0001
        return options;
    }

    /// <summary>
    /// What went wrong, said so the log makes it plain: which model at which host, the HTTP status and the model's own
    /// words. Masked: a model may quote the API key it refused. The original is kept as the inner exception only when it
    /// holds no secret (an error body it quotes may).
    /// </summary>
    private ModelRequestException Failure(Exception exception, int chunks)
    {
        var model = Model is { } m ? $"model {m}" : "the model";
        var at = Host is { } host ? $" at {host}" : $" ({chatClient.GetType().Name})";
        var when = chunks == 0 ? "" : $" after {chunks} chunk(s) of its reply";
        var what = exception switch
        {
            ClientResultException { Status: > 0 } refused => $"answered {refused.Status} {refused.GetRawResponse()?.ReasonPhrase}{when}: {ErrorMessage(refused)}",
            HttpRequestException { StatusCode: { } status } refused => $"answered {(int)status} {status}{when}: {refused.Message}",
            OperationCanceledException => $"did not answer in time{when} (the HTTP client's timeout): {exception.Message}",
            _ when chunks == 0 => $"failed before replying: {exception.Message}",
            _ => $"broke off after {chunks} chunk(s) of its reply: {exception.Message}",
        };
        var message = masker.Apply($"Asking {model}{at} for the typewriter's text failed: it {what}");
        var inner = exception is ClientResultException || masker.Apply(exception.ToString()) != exception.ToString() ? null : exception;
        return new ModelRequestException(message, (exception as ClientResultException)?.Status, inner);
    }

    /// <summary>The model's error message: OpenAI's <c>error.message</c> (DashScope, DeepSeek, Ollama and vLLM answer alike), else the start of the body.</summary>
    private static string ErrorMessage(ClientResultException refused)
    {
        string body;
        try
        {
            body = refused.GetRawResponse()?.Content?.ToString() ?? "";
        }
        catch (InvalidOperationException)
        {
            return "(its answer's body was not read)"; // a streamed answer's body is not buffered
        }

        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("error", out var error)
                && (error.ValueKind == JsonValueKind.String ? error : error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) ? m : default) is { ValueKind: JsonValueKind.String } text)
            {
                return text.GetString()!;
            }
        }
        catch (JsonException)
        {
            // not JSON: a proxy's page, say
        }

        body = body.Trim();
        return body.Length == 0 ? "(no body)" : body.Length > MaxQuotedBody ? body[..MaxQuotedBody] + "…" : body;
    }
}
