using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using DingTalk.CardGateway.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// Accepts a request whose <c>X-Api-Key</c> header matches one of <c>Gateway:AdminApiKeys</c>, compared in
/// constant time. With no key configured nobody gets in (in Sandbox mode the well-known key <c>sandbox</c> does).
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IOptionsMonitor<GatewayOptions> gateway,
    IOptionsMonitor<DingTalkOptions> dingTalk,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";
    public const string SandboxKey = "sandbox";

    public static IReadOnlyList<string> AcceptedKeys(GatewayOptions gateway, DingTalkOptions dingTalk)
    {
        var keys = gateway.AdminApiKeys.Where(k => !string.IsNullOrWhiteSpace(k)).ToList();
        if (keys.Count == 0 && dingTalk.EffectiveMode == GatewayMode.Sandbox)
        {
            keys.Add(SandboxKey);
        }

        return keys;
    }

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(HeaderName, out var values) || string.IsNullOrEmpty(values.ToString()))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var given = SHA256.HashData(Encoding.UTF8.GetBytes(values.ToString()));
        var accepted = AcceptedKeys(gateway.CurrentValue, dingTalk.CurrentValue)
            .Any(key => CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(key))));
        if (!accepted)
        {
            return Task.FromResult(AuthenticateResult.Fail("The X-Api-Key header does not match any configured admin key."));
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "admin")], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{HeaderName}\"";
        var detail = AcceptedKeys(gateway.CurrentValue, dingTalk.CurrentValue).Count == 0
            ? "The admin API is closed: no Gateway:AdminApiKeys are configured."
            : $"Send a valid admin key in the {HeaderName} header.";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = 401, Title = "Unauthorized", Detail = detail },
        });
    }
}
