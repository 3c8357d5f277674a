using System.ClientModel;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenAI;

namespace DingTalk.CardGateway.Handlers.Typewriter;

public static class TextSourceExtensions
{
    /// <summary>
    /// Where the typewriter's text comes from, first that applies: an <see cref="ITextSource"/> the application registered;
    /// an <see cref="IChatClient"/> it registered (through <see cref="ChatClientTextSource"/>); the OpenAI-compatible model
    /// at <c>Gateway:Handlers:Llm:Endpoint</c>; the echo source. Said once at startup (event 6113).
    /// </summary>
    public static IServiceCollection AddTypewriterTextSource(this IServiceCollection services)
    {
        services.AddOptionsWithValidateOnStart<LlmOptions>().BindConfiguration(LlmOptions.Section);
        services.AddSingleton<IValidateOptions<LlmOptions>, LlmOptionsRangeValidator>();
        services.AddSingleton<IValidateOptions<LlmOptions>, LlmOptionsValidator>();
        services.TryAddSingleton<SecretMasker>();
        services.TryAddSingleton<ITextSource>(Choose);
        services.AddHostedService<TextSourceAnnouncement>();
        return services;
    }

    private static ITextSource Choose(IServiceProvider services)
    {
        var llm = services.GetRequiredService<IOptionsMonitor<LlmOptions>>();
        var masker = services.GetRequiredService<SecretMasker>();
        if (services.GetService<IChatClient>() is { } own)
        {
            return new ChatClientTextSource(own, llm, masker);
        }

        var options = llm.CurrentValue;
        if (options.EndpointUri is { } endpoint)
        {
            masker.Add(options.ApiKey); // also when set in code, not only in the configuration the masker read
            return new ChatClientTextSource(CreateChatClient(endpoint, options), llm, masker) { FromEndpoint = true };
        }

        return ActivatorUtilities.CreateInstance<EchoTextSource>(services);
    }

    /// <summary>
    /// OpenAI's client against <paramref name="endpoint"/>. A model on this machine (Ollama) needs no key, but the client
    /// always sends one. Its retries (of 408, 429 and 5xx, after Retry-After) and its network timeout are the library's own.
    /// </summary>
    private static IChatClient CreateChatClient(Uri endpoint, LlmOptions options)
    {
        var key = string.IsNullOrWhiteSpace(options.ApiKey) ? "no-key" : options.ApiKey;
        var client = new OpenAI.Chat.ChatClient(options.Model, new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = endpoint });
        return client.AsIChatClient();
    }
}
