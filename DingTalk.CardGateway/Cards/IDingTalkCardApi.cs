using DingTalk.CardGateway.Cards.Wire;
using Refit;

namespace DingTalk.CardGateway.Cards;

/// <summary>Advanced (interactive) cards: create, deliver, update, stream, and callback registration.</summary>
public interface IDingTalkCardApi
{
    /// <summary>The streaming (typewriter) API's path: DingTalk refuses frames to one card closer than ~500 ms on it.</summary>
    public const string StreamingPath = "/v1.0/card/streaming";

    [Post("/v1.0/card/instances/createAndDeliver")]
    Task<CreateAndDeliverResponse> CreateAndDeliverAsync([Body] CreateAndDeliverRequest request, CancellationToken cancellationToken);

    [Post("/v1.0/card/instances")]
    Task<CreateCardResponse> CreateAsync([Body] CreateCardRequest request, CancellationToken cancellationToken);

    [Post("/v1.0/card/instances/deliver")]
    Task<DeliverCardResponse> DeliverAsync([Body] DeliverCardRequest request, CancellationToken cancellationToken);

    [Put("/v1.0/card/instances")]
    Task<BooleanResultResponse> UpdateAsync([Body] UpdateCardRequest request, CancellationToken cancellationToken);

    [Put(StreamingPath)]
    Task<BooleanResultResponse> StreamingUpdateAsync([Body] StreamingUpdateRequest request, CancellationToken cancellationToken);

    [Post("/v1.0/card/callbacks/register")]
    Task<RegisterCallbackResponse> RegisterCallbackAsync([Body] RegisterCallbackRequest request, CancellationToken cancellationToken);
}
