using System.Text.Json;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// Every card leaves for DingTalk through here: it builds the wire requests (string-only maps, open spaces,
/// callback type and route key) and reports per-target delivery results.
/// </summary>
public sealed partial class CardSender(
    IDingTalkCardApi cards,
    IDingTalkRobotApi robot,
    IOptionsMonitor<DingTalkOptions> options,
    IOptions<DingTalkOptions> startup,
    ILogger<CardSender> logger)
{
    /// <param name="spec">The card.</param>
    /// <param name="retryOfUnconfirmed">
    /// An earlier send of this outTrackId by this gateway never learned whether DingTalk created the card (its row is
    /// stored unconfirmed): DingTalk's "already exists" then means that send did.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<CardDelivery> CreateAndDeliverAsync(AdvancedCardSpec spec, bool retryOfUnconfirmed, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        var space = OpenSpace.For(spec.Target, o.EffectiveRobotCode, spec.AtUserIds);
        var callbackType = CallbackTypeOf(spec);
        var request = new CreateAndDeliverRequest
        {
            CardTemplateId = spec.CardTemplateId,
            OutTrackId = spec.OutTrackId,
            CallbackType = callbackType,
            CallbackRouteKey = callbackType == CallbackTypes.Http ? o.Callback.RouteKey : null,
            CardData = new CardData(CardParamMapEncoder.Encode(spec.CardData)),
            PrivateData = EncodePrivate(spec.PrivateData),
            OpenSpaceId = space.OpenSpaceId,
            ImGroupOpenSpaceModel = space.ImGroupOpenSpaceModel,
            ImGroupOpenDeliverModel = space.ImGroupOpenDeliverModel,
            ImRobotOpenSpaceModel = space.ImRobotOpenSpaceModel,
            ImRobotOpenDeliverModel = space.ImRobotOpenDeliverModel,
            UserIdType = 1,
        };

        CreateAndDeliverResponse response;
        try
        {
            response = await cards.CreateAndDeliverAsync(request, cancellationToken);
        }
        catch (DingTalkApiException ex) when (ex.Code == DingTalkErrors.OutTrackIdExists && ex.AfterUncertainAttempt)
        {
            // An earlier attempt created the card and its answer was lost (timed out, 5xx): the card is DingTalk's and in
            // the chat, only which targets it reached is unknown. Reporting the retry's "already exists" would have the
            // operator send it a second time.
            Log.CreatedButAnswerLost(logger, spec.OutTrackId, ex.RequestId);
            return new CardDelivery(spec.OutTrackId, callbackType, space.OpenSpaceId, []) { Confirmed = false };
        }
        catch (DingTalkApiException ex) when (ex.Code == DingTalkErrors.OutTrackIdExists && retryOfUnconfirmed)
        {
            Log.CreatedByAnEarlierSend(logger, spec.OutTrackId, ex.RequestId);
            return new CardDelivery(spec.OutTrackId, callbackType, space.OpenSpaceId, []) { Confirmed = false };
        }

        // DingTalk said 200 but not success (or answered a body without it): the card is not reported created. It stays
        // stored unconfirmed, so a send again is the same send (DingTalk's "already exists" then means this one created it).
        EnsureSucceeded(response.Success, "creation", spec.OutTrackId, "POST /v1.0/card/instances/createAndDeliver");
        var results = response.Result?.DeliverResults ?? [];
        foreach (var failed in results.Where(r => !r.Success))
        {
            Log.DeliveryFailed(logger, spec.OutTrackId, failed.SpaceType, failed.SpaceId, failed.ErrorMsg);
        }

        return new CardDelivery(response.Result?.OutTrackId ?? spec.OutTrackId, callbackType, space.OpenSpaceId, results);
    }

    /// <summary>Where the card goes and how its callbacks come back, as <see cref="CreateAndDeliverAsync"/> will send it.</summary>
    public CardDelivery Planned(AdvancedCardSpec spec) =>
        new(spec.OutTrackId, CallbackTypeOf(spec), OpenSpace.For(spec.Target, options.CurrentValue.EffectiveRobotCode, spec.AtUserIds).OpenSpaceId, []) { Confirmed = false };

    /// <remarks>
    /// Stream mode as the gateway started with it (<see cref="IOptions{TOptions}"/>, not the reloaded configuration): the
    /// Stream connection is opened, or not, at startup, and a card must call back over a transport this gateway has.
    /// </remarks>
    private string CallbackTypeOf(AdvancedCardSpec spec) =>
        spec.CallbackType ?? (startup.Value.Stream.Enabled ? CallbackTypes.Stream : CallbackTypes.Http);

    /// <summary>PUT /v1.0/card/instances; merged by key unless <paramref name="replace"/>.</summary>
    public async Task UpdateAsync(
        string outTrackId,
        IReadOnlyDictionary<string, JsonElement>? cardData,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? privateData,
        bool replace,
        CancellationToken cancellationToken)
    {
        var request = new UpdateCardRequest
        {
            OutTrackId = outTrackId,
            CardData = cardData is null ? null : new CardData(CardParamMapEncoder.Encode(cardData)),
            PrivateData = EncodePrivate(privateData),
            CardUpdateOptions = new CardUpdateOptions(UpdateCardDataByKey: !replace, UpdatePrivateDataByKey: !replace),
            UserIdType = 1,
        };
        var response = await cards.UpdateAsync(request, cancellationToken);
        EnsureSucceeded(response.Success && response.Result, "update", outTrackId, "PUT /v1.0/card/instances");
    }

    /// <summary>
    /// PUT /v1.0/card/streaming. The frame's guid is DingTalk's idempotency key: a retry of the same frame
    /// reuses it, a new frame gets a new one.
    /// </summary>
    public async Task StreamAsync(StreamingFrame frame, CancellationToken cancellationToken)
    {
        var response = await cards.StreamingUpdateAsync(
            new StreamingUpdateRequest(frame.OutTrackId, frame.Guid, frame.Key, frame.Content, frame.IsFull, frame.IsFinalize, frame.IsError),
            cancellationToken);
        EnsureSucceeded(response.Success && response.Result, "streaming update", frame.OutTrackId, "PUT " + IDingTalkCardApi.StreamingPath);
    }

    /// <summary>
    /// POST the robot send. Sent at most once past an attempt that may have reached DingTalk (<see cref="SendOnce"/>):
    /// when one did and its answer was lost, the card may or may not be in the chat, and the delivery says so
    /// (<see cref="RobotCardDelivery.Confirmed"/> false) instead of throwing.
    /// </summary>
    public async Task<RobotCardDelivery> SendRobotCardAsync(RobotCardSpec spec, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        var request = new SendRobotInteractiveCardRequest
        {
            CardTemplateId = "StandardCard",
            CardBizId = spec.CardBizId,
            RobotCode = o.EffectiveRobotCode,
            CardData = spec.CardData.GetRawText(),
            OpenConversationId = spec.OpenConversationId,
            SingleChatReceiver = spec.UserId is null ? null : JsonSerializer.Serialize(new { userId = spec.UserId }),
            CallbackUrl = spec.CallbackUrl,
            UserIdPrivateDataMap = spec.UserIdPrivateData is null ? null : JsonSerializer.Serialize(spec.UserIdPrivateData, GatewayJson.Options),
        };
        var once = new SendOnce();
        try
        {
            var response = await robot.SendInteractiveCardAsync(request, once, cancellationToken);
            return new RobotCardDelivery(response.ProcessQueryKey, Confirmed: true);
        }
        catch (Exception ex) when (once.MayHaveArrived && !cancellationToken.IsCancellationRequested)
        {
            Log.RobotCardAnswerLost(logger, spec.CardBizId, Describe(ex));
            return new RobotCardDelivery(ProcessQueryKey: null, Confirmed: false);
        }
    }

    /// <summary>What became of the last attempt, in a few words for the log: DingTalk's answer, or the transport's failure.</summary>
    private static string Describe(Exception exception) =>
        DingTalkErrors.CauseOf(exception) switch
        {
            DingTalkApiException dingTalk => $"DingTalk answered {(int)dingTalk.StatusCode} {dingTalk.Code}",
            Polly.Timeout.TimeoutRejectedException or OperationCanceledException => "the attempt timed out",
            var other => other.Message,
        };

    public async Task<string?> UpdateRobotCardAsync(string cardBizId, JsonElement cardData, IReadOnlyDictionary<string, JsonElement>? userIdPrivateData, bool replace, CancellationToken cancellationToken)
    {
        var request = new UpdateRobotInteractiveCardRequest
        {
            CardBizId = cardBizId,
            CardData = cardData.GetRawText(),
            UserIdPrivateDataMap = userIdPrivateData is null ? null : JsonSerializer.Serialize(userIdPrivateData, GatewayJson.Options),
            UpdateOptions = new RobotCardUpdateOptions(UpdateCardDataByKey: !replace, UpdatePrivateDataByKey: !replace),
        };
        var response = await robot.UpdateInteractiveCardAsync(request, cancellationToken);
        return response.ProcessQueryKey;
    }

    /// <summary>An update for everyone from the outbox: PUT card instances for an advanced card, the robot-card update otherwise.</summary>
    public Task DeliverAsync(PendingCardUpdate update, CancellationToken cancellationToken) =>
        update.Kind == CardKind.Advanced
            ? UpdateAsync(update.CardId, update.CardData, update.PrivateData, update.Replace, cancellationToken)
            : UpdateRobotCardAsync(
                update.CardId,
                JsonSerializer.SerializeToElement(update.CardData ?? new Dictionary<string, JsonElement>(), GatewayJson.Options),
                update.PrivateData?.ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value, GatewayJson.Options), StringComparer.Ordinal),
                update.Replace,
                cancellationToken);

    private static Dictionary<string, CardData>? EncodePrivate(IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? privateData) =>
        privateData?.ToDictionary(p => p.Key, p => new CardData(CardParamMapEncoder.Encode(p.Value)), StringComparer.Ordinal);

    private static void EnsureSucceeded(bool succeeded, string what, string outTrackId, string call)
    {
        if (!succeeded)
        {
            // DingTalk said 200 but not success: never report that as done.
            throw new DingTalkApiException(
                System.Net.HttpStatusCode.BadGateway, DingTalkErrors.NotSucceeded, $"DingTalk did not confirm the {what} of card {outTrackId}.", null, call: call);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1101, LogLevel.Warning, "Card {OutTrackId} was not delivered to {SpaceType} {SpaceId}: {ErrorMsg}")]
        public static partial void DeliveryFailed(ILogger logger, string outTrackId, string? spaceType, string? spaceId, string? errorMsg);

        [LoggerMessage(1102, LogLevel.Warning, "Card {OutTrackId}: DingTalk's answer to its creation was lost (timed out or 5xx) and the retry found the card already created (param.outTrackIdExist, request {RequestId}); reported as created, with its delivery to each target unconfirmed")]
        public static partial void CreatedButAnswerLost(ILogger logger, string outTrackId, string? requestId);

        [LoggerMessage(1103, LogLevel.Warning, "Card {OutTrackId}: an earlier send of it never learned whether DingTalk created it (stored unconfirmed), and DingTalk now says it exists (param.outTrackIdExist, request {RequestId}); reported as created by that send, with its delivery to each target unconfirmed")]
        public static partial void CreatedByAnEarlierSend(ILogger logger, string outTrackId, string? requestId);

        [LoggerMessage(1104, LogLevel.Warning, "Robot card {CardBizId}: an attempt to send it may have reached DingTalk and its answer was lost ({Failure}); not sent again, since DingTalk cannot tell a repeat from a new card and would show it twice. It is stored, so its clicks are handled if it arrived: check the chat")]
        public static partial void RobotCardAnswerLost(ILogger logger, string cardBizId, string failure);
    }
}
