using DingTalk.CardGateway.Cards.Wire;
using Refit;

namespace DingTalk.CardGateway.Cards;

/// <summary>Normal (StandardCard) robot cards, DingTalk's legacy card API.</summary>
public interface IDingTalkRobotApi
{
    /// <summary>
    /// The path really has v1.0 twice. DingTalk documents no "already exists" answer for a repeated cardBizId, so a
    /// repeat may show the card twice: <paramref name="sendOnce"/> keeps the retries to attempts that never reached it.
    /// </summary>
    [Post("/v1.0/im/v1.0/robot/interactiveCards/send")]
    Task<RobotCardResponse> SendInteractiveCardAsync(
        [Body] SendRobotInteractiveCardRequest request, [Property(SendOnce.Key)] SendOnce sendOnce, CancellationToken cancellationToken);

    [Put("/v1.0/im/robots/interactiveCards")]
    Task<RobotCardResponse> UpdateInteractiveCardAsync([Body] UpdateRobotInteractiveCardRequest request, CancellationToken cancellationToken);
}
