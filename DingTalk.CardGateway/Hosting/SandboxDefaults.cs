namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// Sandbox mode talks only to the built-in emulator, so it runs with well-known, non-secret credentials
/// when none are configured.
/// </summary>
public static class SandboxDefaults
{
    public const string AppKey = "sandbox-app-key";
    public const string AppSecret = "sandbox-app-secret";
    public const string ApiSecret = "sandbox-api-secret";

    public static void Apply(DingTalkOptions options)
    {
        if (options.EffectiveMode != GatewayMode.Sandbox)
        {
            return;
        }

        options.Mode = GatewayMode.Sandbox; // pinned before AppKey is filled in, which would otherwise mean Live
        options.AppKey = string.IsNullOrWhiteSpace(options.AppKey) ? AppKey : options.AppKey;
        options.AppSecret = string.IsNullOrWhiteSpace(options.AppSecret) ? AppSecret : options.AppSecret;
        options.Callback.ApiSecret = string.IsNullOrWhiteSpace(options.Callback.ApiSecret) ? ApiSecret : options.Callback.ApiSecret;
    }
}
