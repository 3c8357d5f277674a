namespace DingTalk.CardGateway.Admin;

/// <summary>Body of <c>POST /api/cards/{outTrackId}/stream</c>: one typewriter frame for a template variable.</summary>
public sealed record StreamCardRequest
{
    /// <summary>The template variable to stream into.</summary>
    public string? Key { get; init; }

    public string? Content { get; init; }

    /// <summary>True (the default): <see cref="Content"/> is the whole text so far.</summary>
    public bool IsFull { get; init; } = true;

    public bool IsFinalize { get; init; }

    public bool IsError { get; init; }

    public Dictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(Key))
        {
            errors["key"] = ["key (the template variable) is required."];
        }

        if (Content is null)
        {
            errors["content"] = ["content is required."];
        }

        return errors;
    }
}
