using DingTalk.Sandbox.Wire;

namespace DingTalk.Sandbox.State;

/// <summary>An injected failure: the next <see cref="Remaining"/> calls to Method + Path get this error (after being carried out, when <see cref="AfterRun"/>).</summary>
internal sealed class FaultRule(string method, string path, int status, string code, string message, int remaining, int? retryAfterSeconds, string? bodyContains = null)
{
    public string Method { get; } = method;

    /// <summary>Only calls whose body contains this (a card's id) trip the fault; null: any call to the path.</summary>
    public string? BodyContains { get; } = bodyContains;

    public string Path { get; } = path;

    public int Status { get; } = status;

    public string Code { get; } = code;

    public string Message { get; } = message;

    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    public int Remaining { get; set; } = remaining;

    /// <summary>The call is carried out and only its answer replaced: a lost answer rather than a refusal.</summary>
    public bool AfterRun { get; init; }

    /// <summary>Set: the call is refused as an app lacking these permissions (<see cref="SandboxAnswer.PermissionDenied"/>).</summary>
    public IReadOnlyList<string>? RequiredScopes { get; init; }

    public SandboxAnswer Answer() =>
        RequiredScopes is { } scopes ? SandboxAnswer.PermissionDenied(scopes) : SandboxAnswer.Error(Status, Code, Message, RetryAfterSeconds);
}
