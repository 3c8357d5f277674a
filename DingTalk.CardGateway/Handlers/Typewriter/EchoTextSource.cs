using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Handlers.Typewriter;

/// <summary>The default text source: echoes the prompt, then some lorem ipsum, a word at a time like an LLM.</summary>
public sealed class EchoTextSource(IOptionsMonitor<HandlerOptions> options, TimeProvider clock) : ITextSource
{
    public const int MaxEchoedPrompt = 200;

    private const string Lorem =
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "
        + "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.";

    /// <summary>The whole reply to <paramref name="prompt"/>, as the chunks add up to.</summary>
    public static string ReplyTo(string prompt) =>
        $"You asked: {(prompt.Length > MaxEchoedPrompt ? prompt[..MaxEchoedPrompt] : prompt)}\n\n{Lorem}";

    public async IAsyncEnumerable<string> StreamAsync(string prompt, CardActionContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var words = ReplyTo(prompt).Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            var delay = options.CurrentValue.EchoWordDelay;
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, clock, cancellationToken);
            }

            yield return i < words.Length - 1 ? words[i] + " " : words[i];
        }
    }
}
