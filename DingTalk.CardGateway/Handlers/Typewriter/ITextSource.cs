namespace DingTalk.CardGateway.Handlers.Typewriter;

/// <summary>
/// Where the typewriter's text comes from, chunk by chunk. A chat model needs none of your own: set
/// <c>Gateway:Handlers:Llm:Endpoint</c>, or register an <c>IChatClient</c> (<see cref="ChatClientTextSource"/>). For
/// anything else: <c>services.AddSingleton&lt;ITextSource, MySource&gt;()</c>, which takes precedence over both.
/// </summary>
public interface ITextSource
{
    IAsyncEnumerable<string> StreamAsync(string prompt, CardActionContext context, CancellationToken cancellationToken);
}
