using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Admin;

/// <summary><c>/api/robot-cards</c>: send and update normal (StandardCard) robot cards.</summary>
public static partial class RobotCardAdminEndpoints
{
    public static RouteGroupBuilder MapRobotCardAdmin(this RouteGroupBuilder api)
    {
        var robotCards = api.MapGroup("/robot-cards");
        robotCards.MapPost("/", SendAsync).WithSummary("Send a normal robot card; its callbacks come back to a URL minted for it").WithDescription("201 once DingTalk took it; 202 with deliveryConfirmed: false when DingTalk's answer was lost: it may or may not be in the chat, and was not sent again (a repeat could show it twice). Sending that cardBizId again is then refused with 409 unless the request says resendUnconfirmed: true (then it is sent again as stored, with the updates it got since; to another target, 409); a cardBizId DingTalk took already is refused with 409 (update it with PUT).").ProducesDingTalkProblems().ProducesProblem(StatusCodes.Status409Conflict).ProducesBodyProblems();
        robotCards.MapPut("/{cardBizId}", UpdateAsync).WithSummary("Update a normal robot card").ProducesDingTalkProblems().ProducesProblem(StatusCodes.Status409Conflict).ProducesBodyProblems();
        robotCards.MapGet(
                "/{cardBizId}",
                (string cardBizId, ICardStore store, IOutbox outbox, ICallbackStore callbacks, Storage.Sql.SqlEffects effects, CancellationToken cancellationToken) =>
                    CardAdminEndpoints.GetAsync(cardBizId, store, outbox, callbacks, effects, cancellationToken))
            .WithSummary("The robot card as stored, its undelivered updates and its recent callbacks (as GET /api/cards/{id})")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return robotCards;
    }

    /// <remarks>
    /// 201 once DingTalk took the card; 202 with <c>deliveryConfirmed: false</c> when DingTalk's answer was lost after the
    /// request may have reached it: the card may or may not be in the chat, and it was not sent again (DingTalk cannot
    /// tell a repeat from a new card, and would show it twice). Not a 5xx: an operator's client would retry that on its own.
    /// </remarks>
    private static async Task<Results<Created<SendRobotCardResponse>, Accepted<SendRobotCardResponse>, ValidationProblem, ProblemHttpResult>> SendAsync(
        SendRobotCardRequest request,
        CardSender sender,
        ICardStore store,
        IOptionsSnapshot<DingTalkOptions> options,
        CallbackBaseUrl callbackBase,
        TimeProvider clock,
        ILoggerFactory logs,
        CancellationToken cancellationToken)
    {
        if (request.Validate() is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var existing = request.CardBizId is { } chosen ? await store.FindAsync(chosen, cancellationToken) : null;
        if (CardAdminEndpoints.IdTakenByOtherKind(existing, CardKind.Robot) is { } taken)
        {
            return taken;
        }

        if (existing is { CreationConfirmed: false } && !request.ResendUnconfirmed)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Robot card may already be in the chat",
                detail: $"An earlier send of {existing.Id} never learned whether DingTalk took it (202 deliveryConfirmed: false), or is still under way. "
                    + "DingTalk cannot tell a repeat from a new card, so sending it again could show it twice. "
                    + "Check the chat: if the card is not there, send again with \"resendUnconfirmed\": true.");
        }

        if (existing is { CreationConfirmed: true })
        {
            // DingTalk documents no "already exists" answer for a robot card: sent again, it could show twice.
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Robot card already sent",
                detail: $"DingTalk took robot card {existing.Id} already; sending it again could show it twice. "
                    + $"Update it with PUT /api/robot-cards/{existing.Id}, or send a new card under another cardBizId (or none: one is made up).");
        }

        var cardBizId = request.CardBizId ?? $"robot-{Guid.NewGuid():N}";
        var apiSecret = options.Value.Callback.ApiSecret;
        var publicBase = callbackBase.ForCards();
        var callbackUrl = string.IsNullOrEmpty(apiSecret) || publicBase is null ? null : RobotCardCallbackToken.CallbackUrl(publicBase, cardBizId, apiSecret);
        if (callbackUrl is null)
        {
            // Such a card calls back only to the URL it is sent with; none is better than one DingTalk cannot reach.
            Log.SentWithoutCallbackUrl(
                logs.CreateLogger(typeof(RobotCardAdminEndpoints)),
                cardBizId,
                string.Join(" and ", new[] { publicBase is null ? "DingTalk:Callback:PublicBaseUrl" : null, string.IsNullOrEmpty(apiSecret) ? "DingTalk:Callback:ApiSecret" : null }.OfType<string>()));
        }

        var spec = new RobotCardSpec(cardBizId, request.CardData, request.OpenConversationId, request.UserId, callbackUrl);
        if (existing is not null)
        {
            // Sent again (resendUnconfirmed), as POST /api/cards sends an unconfirmed card again: the same card, as stored —
            // with the updates it got since, which the outbox sends DingTalk once the card is there.
            if (CardAdminEndpoints.UnlikeTheEarlierSend(existing, "StandardCard", existing.CallbackType, request.OpenConversationId ?? request.UserId) is { } unlike)
            {
                return unlike;
            }

            spec = AsStored(spec, existing);
        }

        // Stored before it is sent, unconfirmed until DingTalk takes it (as POST /api/cards): its clicks find it whatever
        // fails after the send. An unconfirmed id sent again (resendUnconfirmed) keeps its row until DingTalk takes the new send.
        var now = clock.GetUtcNow();
        var card = existing ?? new CardRecord
        {
            Id = cardBizId,
            Kind = CardKind.Robot,
            TemplateId = "StandardCard",
            OpenSpaceId = request.OpenConversationId ?? request.UserId,
            PublicData = new Dictionary<string, string> { [CardUpdates.RobotCardDataKey] = request.CardData.GetRawText() },
            Version = 1,
            CreatedAt = now,
            UpdatedAt = now,
        };
        var stored = existing is null;
        if (stored)
        {
            if (await store.TryAddUnconfirmedAsync(card, cancellationToken) is not { } added)
            {
                return CardAdminEndpoints.SendUnderWay(cardBizId);
            }

            if (added.Version > 1) // changed since the record (version 1): updates were folded in
            {
                // Updates of the id queued before it had a card reach the card once DingTalk has it, and the store folded them
                // in: sent as stored, as POST /api/cards creates such a card.
                (card, spec) = (added, AsStored(spec, added));
            }
        }

        RobotCardDelivery delivery;
        try
        {
            delivery = await sender.SendRobotCardAsync(spec, cancellationToken);
        }
        catch (DingTalkApiException ex) when (stored && ex.CertainlyRefused)
        {
            await store.ForgetUnconfirmedAsync(cardBizId, CancellationToken.None);
            throw;
        }

        var location = $"/api/robot-cards/{Uri.EscapeDataString(cardBizId)}";
        if (!delivery.Confirmed)
        {
            // Kept as stored, unconfirmed (an id stored before keeps its row): its clicks are handled if it arrived.
            return TypedResults.Accepted(location, new SendRobotCardResponse(cardBizId, null, DeliveryConfirmed: false));
        }

        // Stored by this send, or by the earlier send of the same card: the row has the card's data.
        await store.ConfirmCreationAsync(card, cancellationToken);
        return TypedResults.Created(location, new SendRobotCardResponse(cardBizId, delivery.ProcessQueryKey));
    }

    /// <summary>The send of <paramref name="spec"/> with the card as stored: its StandardCard JSON and each user's private data.</summary>
    private static RobotCardSpec AsStored(RobotCardSpec spec, CardRecord stored)
    {
        using var storedData = stored.PublicData.GetValueOrDefault(CardUpdates.RobotCardDataKey) is { } json ? JsonDocument.Parse(json) : null;
        return spec with
        {
            CardData = storedData?.RootElement.Clone() ?? spec.CardData,
            UserIdPrivateData = stored.PrivateData.Count == 0
                ? null
                : stored.PrivateData.ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value), StringComparer.Ordinal),
        };
    }

    private static async Task<Results<NoContent, Accepted<UpdateAccepted>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        string cardBizId,
        UpdateRobotCardRequest request,
        StorageSession session,
        ICardStore cards,
        CardUpdates updates,
        IOutbox outbox,
        CancellationToken cancellationToken)
    {
        if (request.Validate() is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var update = new PendingCardUpdate(
            cardBizId,
            CardKind.Robot,
            CardUpdates.Properties(request.CardData),
            request.UserIdPrivateData?.ToDictionary(p => p.Key, p => CardUpdates.Properties(p.Value), StringComparer.Ordinal),
            request.Replace);
        return await OutboxDelivery.QueueAndWaitAsync(update, session, cards, updates, outbox, $"/api/robot-cards/{Uri.EscapeDataString(cardBizId)}", cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(3124, LogLevel.Warning, "Robot card {CardBizId} is sent without a callbackUrl, so a click on any of its buttons reaches no one: a normal robot card calls back only over HTTP, to the URL it is sent with (not over Stream), and this gateway has none to give ({Missing:l} not set). Set both for robot cards with buttons; a card without any needs neither")]
        public static partial void SentWithoutCallbackUrl(ILogger logger, string cardBizId, string missing);
    }
}
