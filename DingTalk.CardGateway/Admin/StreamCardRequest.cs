using System.ComponentModel.DataAnnotations;

namespace DingTalk.CardGateway.Admin;

/// <summary>Body of <c>POST /api/cards/{outTrackId}/stream</c>: one typewriter frame for a template variable.</summary>
public sealed record StreamCardRequest : IExampleBody<StreamCardRequest>
{
    /// <summary>One whole, final frame into a variable of its own: no variable the card's template shows is touched.</summary>
    public static StreamCardRequest Example => new()
    {
        Key = "swaggerNote",
        Content = "Streamed from Swagger UI",
        IsFull = true,
        IsFinalize = true,
    };

    /// <summary>The template variable to stream into.</summary>
    [Required]
    public string? Key { get; init; }

    /// <summary>The text of the frame.</summary>
    [Required]
    public string? Content { get; init; }

    /// <summary>True (the default): <c>content</c> is the whole text so far; false: <c>content</c> is appended to what the variable shows.</summary>
    public bool IsFull { get; init; } = true;

    /// <summary>True for the text's last frame: DingTalk stops showing it as being typed.</summary>
    public bool IsFinalize { get; init; }

    /// <summary>True when the text failed: DingTalk shows the variable as an error.</summary>
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
