using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers.Approval;

/// <summary>
/// An approval: <c>params.action = "approve"</c> or <c>"reject"</c>; the first decision wins. Everyone's card shows
/// <c>status</c> (approved | rejected) and <c>decidedBy</c>; a later click only tells its clicker (private <c>notice</c>).
/// A normal robot card shows the decision in its markdown block <see cref="BlockId"/>.
/// </summary>
public sealed class ApprovalHandler(IHandlerStateStore states, TimeProvider clock) : ICardActionHandler
{
    public const string ApproveAction = "approve";
    public const string RejectAction = "reject";
    private const string StateName = "approval";

    /// <summary>On a normal robot card, the id of the markdown block in <c>contents</c> that shows the decision.</summary>
    public const string BlockId = "approval";

    public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var status = context.Action == ApproveAction ? "approved" : "rejected";
        var decision = await states.UpdateAsync<ApprovalState>(
            StateName,
            context.CardId,
            current => current ?? new ApprovalState(status, context.UserId, context.CallbackId, clock.GetUtcNow()),
            cancellationToken);

        var shown = CardValues.Of("status", decision.Status).With("decidedBy", decision.DecidedBy);
        return decision.CallbackId == context.CallbackId
            ? CardActionResult.ForClicker(ClickerUpdate.Public(shown)).AndForEveryone(EveryoneUpdate.Public(shown).WithBlockOnRobotCard(context, BlockId, decision, Sentence))
            : CardActionResult.ForClicker(new ClickerUpdate(shown, CardValues.Of("notice", $"Already {decision.Status} by {decision.DecidedBy}.")));
    }

    private static string Sentence(ApprovalState decision) =>
        $"**{(decision.Status == "approved" ? "Approved" : "Rejected")}** by {RobotCardData.EscapeMarkdown(decision.DecidedBy)}";
}
