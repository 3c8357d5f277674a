using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DingTalk.CardGateway.Callbacks.Registration;

/// <summary>Ready only once DingTalk sends this route key's callbacks here (or nobody needs it to).</summary>
public sealed class CallbackRegistrationHealthCheck(CallbackRegistrationStatus status) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(status.State is CallbackRegistrationState.Registered or CallbackRegistrationState.NotRequired
            ? HealthCheckResult.Healthy(status.Detail)
            : HealthCheckResult.Unhealthy(status.Detail));
}
