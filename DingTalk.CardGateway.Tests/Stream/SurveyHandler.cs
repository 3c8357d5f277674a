using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary><c>params.action = "survey"</c>: a form bound to <see cref="Survey"/>; the clicker sees the rating it read.</summary>
public sealed class SurveyHandler(HandlerInvocations invocations) : ICardActionHandler
{
    public const string Action = "survey";

    public Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        using var running = invocations.Add(context.CardId, context.UserId, context.CallbackId);
        var survey = context.ParamsAs<Survey>();
        return Task.FromResult(CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("myRating", survey.Rating))));
    }

    public sealed record Survey(int Rating, IReadOnlyList<string> Topics);
}
