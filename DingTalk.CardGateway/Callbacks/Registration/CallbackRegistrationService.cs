using System.Security.Cryptography;
using System.Text;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Callbacks.Registration;

/// <summary>
/// Registers <c>{PublicBaseUrl}/dingtalk/callbacks/card</c> for the route key once the server listens, retrying
/// with capped backoff while DingTalk is unreachable, never holding up the process. Another deployment owning the
/// route key (DingTalk answers its URL or secret, or <c>param.callbackRouteKeyExist</c>) is a conflict: one error
/// log, not ready, no retry.
/// </summary>
public sealed partial class CallbackRegistrationService(
    IDingTalkCardApi api,
    CallbackBaseUrl baseUrl,
    CallbackRegistrationStatus status,
    IOptionsMonitor<DingTalkOptions> dingTalk,
    IOptionsMonitor<CallbackHandlingOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider clock,
    ILogger<CallbackRegistrationService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = dingTalk.CurrentValue;
        if (settings is { EffectiveMode: GatewayMode.Live, Stream.Enabled: false, Callback.PublicBaseUrl: { Scheme: "http" } plain })
        {
            // The signature covers the timestamp alone: over plain http a click's body can be changed on the way and still pass.
            Log.PlainHttp(logger, plain.ToString());
        }

        if (NotWanted(settings) is { } reason)
        {
            status.Set(CallbackRegistrationState.NotRequired, reason);
            return;
        }

        status.Set(CallbackRegistrationState.Pending, "Registering the card callback URL with DingTalk.");
        if (!await lifetime.WaitForStartedAsync(stoppingToken))
        {
            return;
        }

        var callback = settings.Callback;
        var request = new RegisterCallbackRequest(
            callback.RouteKey, $"{baseUrl.Get().ToString().TrimEnd('/')}{CardCallbackEndpoint.Path}", callback.ApiSecret!, callback.ForceUpdate);
        var delay = options.CurrentValue.RegistrationRetryDelay;
        for (var attempt = 1; !stoppingToken.IsCancellationRequested; attempt++)
        {
            var failure = await TryRegisterAsync(api, request, stoppingToken);
            if (failure is null)
            {
                return;
            }

            status.Set(CallbackRegistrationState.Failing, $"Callback registration failed ({failure}); retrying.");
            Log.Failed(logger, attempt, failure, delay.TotalSeconds);
            try
            {
                await Task.Delay(delay, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var next = delay * 2 + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 250));
            delay = next < options.CurrentValue.RegistrationRetryMaxDelay ? next : options.CurrentValue.RegistrationRetryMaxDelay;
        }
    }

    private static string? NotWanted(DingTalkOptions settings) =>
        settings.Stream.Enabled ? "Stream mode: cards call back over the Stream connection, no URL to register."
        : !settings.Callback.RegisterOnStartup ? "DingTalk:Callback:RegisterOnStartup is off: the callback URL is registered outside the gateway."
        : string.IsNullOrEmpty(settings.Callback.ApiSecret) ? "DingTalk:Callback:ApiSecret is not set: nothing to register."
        : null;


    /// <summary>Null when done (registered, or a conflict reported); else why it failed, to retry.</summary>
    private async Task<string?> TryRegisterAsync(IDingTalkCardApi api, RegisterCallbackRequest request, CancellationToken stoppingToken)
    {
        try
        {
            RegisterCallbackResponse response;
            using (AccessTokenProvider.CallerReportsRefusal()) // 3203 says a refused token call, with its reason
            {
                response = await api.RegisterCallbackAsync(request, stoppingToken);
            }
            if (!response.Success)
            {
                return "DingTalk answered success: false";
            }

            var registered = response.Result;
            var sameUrl = registered?.CallbackUrl is null || string.Equals(registered.CallbackUrl, request.CallbackUrl, StringComparison.Ordinal);
            var secret = WhichSecret(registered?.ApiSecret, request.ApiSecret, dingTalk.CurrentValue.Callback.PreviousApiSecrets, out var index);
            if (sameUrl && secret is RegisteredSecret.Unsaid or RegisteredSecret.Current)
            {
                status.Set(CallbackRegistrationState.Registered, $"Card callbacks for route key '{request.CallbackRouteKey}' come to {request.CallbackUrl}.");
                Log.Registered(logger, request.CallbackRouteKey, request.CallbackUrl);
                return null;
            }

            if (sameUrl && secret is RegisteredSecret.Previous && !request.ForceUpdate)
            {
                // Our URL under a secret we used before: ours, being rotated. DingTalk keeps a registration it is not told
                // to overwrite, so it is overwritten — this one, proven ours by its secret; never another deployment's.
                Log.Rotating(logger, request.CallbackRouteKey, index);
                return await TryRegisterAsync(api, request with { ForceUpdate = true }, stoppingToken);
            }

            Conflict(request, registered!.CallbackUrl ?? request.CallbackUrl, Comparison(registered.CallbackUrl ?? request.CallbackUrl, request.CallbackUrl, secret, index));
            return null;
        }
        catch (DingTalkApiException ex) when (ex.Code == "param.callbackRouteKeyExist")
        {
            Conflict(request, "another URL", "DingTalk answered param.callbackRouteKeyExist without naming the URL or its apiSecret, so this may be this deployment's own earlier registration at another URL or another deployment's");
            return null;
        }
        catch (Exception ex) when (Refused(ex) is { } refused)
        {
            // Refit wraps what the handlers below it throw before any answer, such as DingTalk refusing the token call (a
            // wrong AppSecret): DingTalk's refusal, with the keys to check, not "DingTalk unreachable".
            return $"DingTalk answered {(int)refused.StatusCode} {refused.Code}: {refused.DingTalkMessage}{DingTalkErrors.KeysToCheck(refused.Code)}";
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // Unreachable (HttpRequestException, timeouts, an open circuit; Refit wraps what fails below it in an
            // ApiRequestException): retried, never fatal. The network's own words, not the wrapper's type name.
            return $"DingTalk unreachable ({DingTalkErrors.CauseOf(ex).Message}); {DingTalkErrors.CheckTheNetworkPath}";
        }
    }

    private static DingTalkApiException? Refused(Exception ex) => DingTalkErrors.CauseOf(ex) as DingTalkApiException;

    private void Conflict(RegisterCallbackRequest request, string registeredUrl, string comparison)
    {
        status.Set(
            CallbackRegistrationState.Conflict,
            $"Route key '{request.CallbackRouteKey}' is registered to {registeredUrl}, not {request.CallbackUrl} ({comparison}): this gateway gets no HTTP card callbacks.");
        Log.Conflict(logger, request.CallbackRouteKey, registeredUrl, request.CallbackUrl, comparison);
    }

    /// <summary>Which of our secrets DingTalk says the route key is registered with; constant-time against each.</summary>
    private static RegisteredSecret WhichSecret(string? registered, string current, List<string> previous, out int index)
    {
        index = -1;
        if (registered is null)
        {
            return RegisteredSecret.Unsaid;
        }

        var theirs = Encoding.UTF8.GetBytes(registered);
        if (CryptographicOperations.FixedTimeEquals(theirs, Encoding.UTF8.GetBytes(current)))
        {
            return RegisteredSecret.Current;
        }

        for (var i = 0; i < previous.Count; i++)
        {
            if (CryptographicOperations.FixedTimeEquals(theirs, Encoding.UTF8.GetBytes(previous[i])))
            {
                index = i;
                return RegisteredSecret.Previous;
            }
        }

        return RegisteredSecret.Other;
    }

    /// <summary>As below, for a registration known only to have our current apiSecret or not (null: DingTalk did not say).</summary>
    internal static string Comparison(string registeredUrl, string ourUrl, bool? sameSecret) => Comparison(
        registeredUrl, ourUrl, sameSecret switch { true => RegisteredSecret.Current, false => RegisteredSecret.Other, null => RegisteredSecret.Unsaid }, -1);

    /// <summary>
    /// What differs between the registration DingTalk keeps and ours, so an operator can tell this deployment's own
    /// earlier URL (PublicBaseUrl moved from http to https, or to a new host name) from another deployment's: the
    /// parts of the URL, and which of our secrets the apiSecret is, if any (never the secret itself).
    /// </summary>
    internal static string Comparison(string registeredUrl, string ourUrl, RegisteredSecret registered, int previousIndex)
    {
        var secret = registered switch
        {
            RegisteredSecret.Current => "with the same apiSecret as DingTalk:Callback:ApiSecret",
            RegisteredSecret.Previous => $"with the apiSecret of DingTalk:Callback:PreviousApiSecrets:{previousIndex}",
            RegisteredSecret.Other => "with an apiSecret other than DingTalk:Callback:ApiSecret",
            _ => "DingTalk did not say its apiSecret",
        };
        var ours = registered is RegisteredSecret.Current or RegisteredSecret.Previous;
        var url = UrlDifference(registeredUrl, ourUrl);
        if (url is null)
        {
            return registered == RegisteredSecret.Previous
                ? $"the same URL, but {secret}, which DingTalk kept even when asked to overwrite it: this gateway still accepts its signatures"
                : $"the same URL, but {secret}: DingTalk signs its callbacks with that one, which this gateway refuses";
        }

        return ours
            ? $"{url}, {secret}: most likely this deployment's own earlier registration, from before DingTalk:Callback:PublicBaseUrl changed"
            : $"{url}, {secret}: another deployment's, or this one's from before both its URL and its secret changed";
    }

    private static string? UrlDifference(string registeredUrl, string ourUrl)
    {
        if (!Uri.TryCreate(registeredUrl, UriKind.Absolute, out var theirs) || !Uri.TryCreate(ourUrl, UriKind.Absolute, out var ours))
        {
            return string.Equals(registeredUrl, ourUrl, StringComparison.Ordinal) ? null : "another URL";
        }

        var parts = new List<string>();
        if (!string.Equals(theirs.Scheme, ours.Scheme, StringComparison.OrdinalIgnoreCase))
        {
            parts.Add($"scheme ({theirs.Scheme}, ours {ours.Scheme})");
        }

        if (!string.Equals(theirs.Host, ours.Host, StringComparison.OrdinalIgnoreCase))
        {
            parts.Add($"host ({theirs.Host}, ours {ours.Host})");
        }

        if (theirs.Port != ours.Port && !(theirs.IsDefaultPort && ours.IsDefaultPort))
        {
            parts.Add($"port ({theirs.Port}, ours {ours.Port})");
        }

        if (!string.Equals(theirs.PathAndQuery, ours.PathAndQuery, StringComparison.Ordinal))
        {
            parts.Add($"path ({theirs.PathAndQuery}, ours {ours.PathAndQuery})");
        }

        return parts.Count switch
        {
            0 => null,
            1 => $"only the {parts[0]} differs",
            _ => $"the {string.Join(", ", parts[..^1])} and {parts[^1]} differ",
        };
    }

    private static partial class Log
    {
        [LoggerMessage(1105, LogLevel.Warning, "DingTalk:Callback:PublicBaseUrl is plain http ({PublicBaseUrl}): DingTalk's callback signature covers only its timestamp, so anyone on the way can change what a click says (its user, its action, its params) and it still passes. Use an https URL in Live mode")]
        public static partial void PlainHttp(ILogger logger, string publicBaseUrl);

        [LoggerMessage(3201, LogLevel.Information, "Registered card callbacks for route key '{RouteKey}' at {CallbackUrl}")]
        public static partial void Registered(ILogger logger, string routeKey, string callbackUrl);

        [LoggerMessage(3202, LogLevel.Error, "Card callback route key '{RouteKey}' is already registered, to {RegisteredUrl}; this gateway is {CallbackUrl}: {Comparison:l}. Meanwhile this gateway gets no HTTP card callbacks it can accept. Use another DingTalk:Callback:RouteKey, or set DingTalk:Callback:ForceUpdate=true to take the key over (for this deployment's own earlier registration, that moves it here).")]
        public static partial void Conflict(ILogger logger, string routeKey, string registeredUrl, string callbackUrl, string comparison);

        [LoggerMessage(3204, LogLevel.Information, "Card callback route key '{RouteKey}' is registered to this gateway's URL with the apiSecret of DingTalk:Callback:PreviousApiSecrets:{PreviousIndex}: this deployment's, being rotated. Registering DingTalk:Callback:ApiSecret in its place (forceUpdate); the previous secret is still accepted for the clicks DingTalk signed with it")]
        public static partial void Rotating(ILogger logger, string routeKey, int previousIndex);

        [LoggerMessage(3203, LogLevel.Warning, "Card callback registration attempt {Attempt} failed ({Reason}); retrying in {DelaySeconds:0.#} s")]
        public static partial void Failed(ILogger logger, int attempt, string reason, double delaySeconds);
    }
}
