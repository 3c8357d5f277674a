using System.ComponentModel.DataAnnotations;

namespace DingTalk.CardGateway.Handlers;

/// <summary>The <c>Gateway:Handlers</c> section: how streamed handler results reach DingTalk.</summary>
public sealed class HandlerOptions : IValidatableObject
{
    public const string Section = "Gateway:Handlers";

    private const string VariableName = "^[A-Za-z_][A-Za-z0-9_]*$";

    /// <summary>
    /// Least time between two streamed frames (or typewriter updates) to one card. DingTalk refuses frames
    /// closer than about 500 ms with a 403; lower it only against the sandbox.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan StreamFrameInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Longest a text source may take to end. Past it the text so far is finalised as an error and the card may type
    /// its next text: a stalled LLM stream would otherwise hold the card, and every later question on it, for ever.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan StreamTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long a gateway process's claim on a card it types into lasts unless renewed (every third of this, while it
    /// types): replicas sharing a database type one text at a time per card. Also how long a card whose replica
    /// crashed mid-text stays taken before another replica types its next reply. Short enough that a crash costs the
    /// card's next reply seconds, long enough that two missed renewals (a database hiccup, a pause) do not let a second
    /// replica in while the first still types; the outbox's claim on a card lasts as long.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan StreamLeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The card variable the shipped typewriter (<c>params.action = "ask"</c>) types its reply into.</summary>
    [RegularExpression(VariableName)]
    public string TypewriterKey { get; set; } = "content";

    /// <summary>
    /// The card variable the shipped typewriter shows its progress in, the way DingTalk's AI card templates do
    /// (<c>flowStatus</c>: processing, inputing, finished or failed; <see cref="AiCardStatus"/>); none by default.
    /// </summary>
    [RegularExpression(VariableName)]
    public string? TypewriterStatusKey { get; set; }

    /// <summary>Pause between words of the built-in echo text source, so it types like an LLM.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:05")]
    public TimeSpan EchoWordDelay { get; set; } = TimeSpan.FromMilliseconds(80);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrEmpty(TypewriterKey))
        {
            yield return new ValidationResult("Gateway:Handlers:TypewriterKey (Gateway__Handlers__TypewriterKey) is required: the card variable the typewriter types into.");
        }
        else if (string.Equals(TypewriterKey, TypewriterStatusKey, StringComparison.Ordinal))
        {
            yield return new ValidationResult(
                "Gateway:Handlers:TypewriterStatusKey (Gateway__Handlers__TypewriterStatusKey) must differ from TypewriterKey: the status would overwrite the typed text.");
        }
    }
}
