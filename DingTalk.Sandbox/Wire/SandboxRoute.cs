namespace DingTalk.Sandbox.Wire;

/// <summary>Answers one DingTalk API; called under the state's lock with the body not yet parsed.</summary>
internal delegate SandboxAnswer SandboxHandler(SandboxCall call, SandboxState state);

/// <summary>One DingTalk API the sandbox serves.</summary>
internal sealed record SandboxRoute(string Method, string Path, SandboxHandler Handler, bool NeedsToken = true, bool IsTokenCall = false);
