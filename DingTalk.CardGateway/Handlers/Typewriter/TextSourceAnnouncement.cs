using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Handlers.Typewriter;

/// <summary>Says at startup where the typewriter's text comes from (a model: its host and name, never its key).</summary>
public sealed partial class TextSourceAnnouncement(IServiceScopeFactory scopes, IOptions<LlmOptions> llm, ILogger<TextSourceAnnouncement> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope(); // an application's own source may be scoped
        var source = scope.ServiceProvider.GetRequiredService<ITextSource>();
        var (said, own) = source switch
        {
            ChatClientTextSource { FromEndpoint: true } chat => ($"the model {chat.Model} at {chat.Host} (Gateway:Handlers:Llm:Endpoint)", false),
            ChatClientTextSource chat => ($"the IChatClient registered in DI, {chat.ChatClient.GetType().Name}{Described(chat)}", true),
            EchoTextSource => ("the built-in echo source (set Gateway:Handlers:Llm:Endpoint to answer with a model)", false),
            _ => ($"the ITextSource registered in DI, {source.GetType().Name}", true),
        };
        Log.TextSource(logger, said);
        if (own && llm.Value.HasEndpoint)
        {
            Log.EndpointUnused(logger, said);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static string Described(ChatClientTextSource chat) => (chat.Model, chat.Host) switch
    {
        ({ } model, { } host) => $" (model {model} at {host})",
        ({ } model, null) => $" (model {model})",
        (null, { } host) => $" (at {host})",
        _ => "",
    };

    private static partial class Log
    {
        [LoggerMessage(6113, LogLevel.Information, "The typewriter's text comes from {TextSource}")]
        public static partial void TextSource(ILogger logger, string textSource);

        [LoggerMessage(6114, LogLevel.Warning, "Gateway:Handlers:Llm:Endpoint is set but not used: the typewriter's text comes from {TextSource}, which takes precedence")]
        public static partial void EndpointUnused(ILogger logger, string textSource);
    }
}
