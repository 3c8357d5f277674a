namespace DingTalk.CardGateway.Handlers.Typewriter;

/// <summary>A chat model refused or broke off the typewriter's request; the message names the model, its host and the status, never a secret.</summary>
public sealed class ModelRequestException(string message, int? status, Exception? innerException) : Exception(message, innerException)
{
    /// <summary>The HTTP status the model answered with; null when it failed otherwise (a broken stream, a timeout).</summary>
    public int? Status { get; } = status;
}
