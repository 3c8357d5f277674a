using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Handlers.Effects;

namespace DingTalk.CardGateway.Tests.Handlers.Samples;

// The README's "Effects after the commit" sample, as written there: an approval decided posts to a webhook after the
// click commits. A sample, not a shipped handler.

public sealed record ApprovalDecided(string CardId, string Decision, string DecidedBy);

public sealed class MyApprovalHandler : ICardActionHandler
{
    public Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var decision = context.Action == "approve" ? "approved" : "rejected";
        return Task.FromResult(CardActionResult
            .ForEveryone(EveryoneUpdate.Public(CardValues.Of("status", decision)))
            .AndAfterCommit<ApprovalWebhook, ApprovalDecided>(new ApprovalDecided(context.CardId, decision, context.UserId)));
    }
}

public sealed class ApprovalWebhook(IHttpClientFactory http) : ICardEffect<ApprovalDecided>
{
    public async Task RunAsync(CardEffectRun<ApprovalDecided> run, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "approvals") { Content = JsonContent.Create(run.Payload) };
        request.Headers.Add("Idempotency-Key", run.IdempotencyKey); // the same on every retry: the receiver drops repeats
        using var response = await http.CreateClient("approvals-webhook").SendAsync(request, cancellationToken);
        if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity)
        {
            throw new PermanentEffectFailureException($"the webhook refused it: {(int)response.StatusCode}"); // dead at once, not retried
        }

        response.EnsureSuccessStatusCode(); // anything else thrown: retried with backoff
    }
}
