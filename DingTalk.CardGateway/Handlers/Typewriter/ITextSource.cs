namespace DingTalk.CardGateway.Handlers.Typewriter;

/// <summary>
/// Where the typewriter's text comes from, chunk by chunk. Replace the echo default with your LLM:
/// <c>services.AddSingleton&lt;ITextSource, MyLlmSource&gt;()</c>.
/// </summary>
public interface ITextSource
{
    IAsyncEnumerable<string> StreamAsync(string prompt, CardActionContext context, CancellationToken cancellationToken);
}
