using DingTalk.CardGateway.Cards.Wire;
using Refit;

namespace DingTalk.CardGateway.Cards;

/// <summary>Normal (StandardCard) robot cards, DingTalk's legacy card API.</summary>
public interface IDingTalkRobotApi
{
    // The path really has v1.0 twice.
    [Post("/v1.0/im/v1.0/robot/interactiveCards/send")]
    Task<RobotCardResponse> SendInteractiveCardAsync([Body] SendRobotInteractiveCardRequest request, CancellationToken cancellationToken);

    [Put("/v1.0/im/robots/interactiveCards")]
    Task<RobotCardResponse> UpdateInteractiveCardAsync([Body] UpdateRobotInteractiveCardRequest request, CancellationToken cancellationToken);
}
