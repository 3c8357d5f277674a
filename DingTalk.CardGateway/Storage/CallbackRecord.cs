namespace DingTalk.CardGateway.Storage;

/// <summary>One card callback as recorded: who clicked what, which handler ran, and the answer DingTalk got.</summary>
public sealed record CallbackRecord
{
    /// <summary>Stable across redeliveries of the same callback: the deduplication key.</summary>
    public required string CallbackId { get; init; }

    public required string CardId { get; init; }

    /// <summary><c>Http</c>, <c>RobotHttp</c> or <c>Stream</c>.</summary>
    public required string Transport { get; init; }

    /// <summary><c>ActionCallback</c> or <c>DynamicDataCallback</c>.</summary>
    public required string Type { get; init; }

    public required string UserId { get; init; }

    /// <summary><c>params.action</c>, when the card sent one.</summary>
    public string? Action { get; init; }

    public IReadOnlyList<string> ActionIds { get; init; } = [];

    /// <summary>The click's <c>params</c>, as DingTalk sent them.</summary>
    public System.Text.Json.JsonElement? Params { get; init; }

    public DateTimeOffset ReceivedAt { get; init; }

    public CallbackOutcome Outcome { get; init; } = CallbackOutcome.Pending;

    /// <summary>The handler type that ran, if any.</summary>
    public string? Handler { get; init; }

    /// <summary>The JSON answered to DingTalk, replayed verbatim to a redelivery.</summary>
    public string? AnswerJson { get; init; }

    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>A click as the pipeline records it on receipt, <see cref="CallbackOutcome.Pending"/> until it is handled.</summary>
    public static CallbackRecord Received(Callbacks.CardAction action, DateTimeOffset at) => new()
    {
        CallbackId = action.CallbackId,
        CardId = action.CardId,
        Transport = action.Transport.ToString(),
        Type = action.Type.ToString(),
        UserId = action.UserId,
        Action = action.Action,
        ActionIds = action.ActionIds,
        Params = action.Params,
        ReceivedAt = at,
    };

    /// <summary>From receipt to the recorded outcome.</summary>
    public double? DurationMs => (CompletedAt - ReceivedAt)?.TotalMilliseconds;
}
