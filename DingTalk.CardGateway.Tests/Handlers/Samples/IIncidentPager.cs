namespace DingTalk.CardGateway.Tests.Handlers.Samples;

/// <summary>An effect outside the gateway's store (a pager, a mail): what <see cref="CardGateway.Handlers.CardActionContext.Run"/> is for.</summary>
public interface IIncidentPager
{
    Task PageAsync(string userId, string incidentId, CancellationToken cancellationToken);
}
