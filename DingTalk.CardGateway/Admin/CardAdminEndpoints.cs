using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Admin;

/// <summary><c>/api/cards</c>: create, update, stream and inspect advanced cards.</summary>
public static partial class CardAdminEndpoints
{
    public static RouteGroupBuilder MapCardAdmin(this RouteGroupBuilder api)
    {
        var cards = api.MapGroup("/cards");
        cards.MapPost("/", SendAsync)
            .WithSummary("Create and deliver an advanced card")
            .ProducesDingTalkProblems()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesBodyProblems();
        cards.MapPut("/{outTrackId}", UpdateAsync)
            .WithSummary("Update card data and private data (merged by key unless replace is true), through the outbox")
            .WithDescription("204 once DingTalk has taken the update; 202 with the outbox entry if it is still being retried after a few seconds; 409 for a robot card (PUT /api/robot-cards/{id}).")
            .ProducesDingTalkProblems()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesBodyProblems();
        cards.MapPost("/{outTrackId}/stream", StreamAsync)
            .WithSummary("Stream (typewriter) one frame into a card variable")
            .WithDescription("204 once DingTalk has taken the frame, sent at the card's pace (Gateway:Handlers:StreamFrameInterval after its last frame), and the card's stored data then keeps what the variable shows (content, or for isFull: false the stored value with content appended); 409 with Retry-After while a text is being typed into the card (nothing sent: the frame would land between its frames), and for a robot card (DingTalk streams into advanced cards only: PUT /api/robot-cards/{id}).")
            .ProducesDingTalkProblems()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesBodyProblems();
        cards.MapGet("/", ListAsync)
            .WithSummary("The stored cards (advanced and robot), a page at a time in id order, each with its undelivered updates counted")
            .WithDescription("limit: 1–500 (100); after: the next of the previous page; undelivered=dead (or pending): only cards with such updates — the cards behind cardgateway.outbox.entries{status=dead}.")
            .ProducesValidationProblem();
        cards.MapGet("/{outTrackId}", GetAsync)
            .WithSummary("The card as stored, its undelivered (pending or dead-lettered) updates and its recent callbacks")
            .WithDescription("callbacks: its last 100, oldest first; callbacksNext, when it has older ones: the before of GET /api/cards/{outTrackId}/callbacks that pages on from them.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return cards;
    }

    /// <summary>
    /// What a route that calls DingTalk may answer besides its success: a bad body (400), DingTalk's refusals with its
    /// code (404 for an unknown card, 422 for other parameters, 502 for what the operator must fix).
    /// </summary>
    internal static RouteHandlerBuilder ProducesDingTalkProblems(this RouteHandlerBuilder route) => route
        .ProducesProblem(StatusCodes.Status400BadRequest)
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
        .ProducesProblem(StatusCodes.Status502BadGateway);

    private static async Task<Results<Created<SendCardResponse>, ValidationProblem, ProblemHttpResult>> SendAsync(
        SendCardRequest request,
        CardSender sender,
        ICardStore store,
        IOptionsSnapshot<DingTalkOptions> dingTalk,
        IOptions<DingTalkOptions> startup,
        TimeProvider clock,
        ILoggerFactory logs,
        CancellationToken cancellationToken)
    {
        if (request.Validate() is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(errors);
        }

        // A Stream-only deployment may leave the callback secret unset: every HTTP callback of such a card would be refused
        // as unverifiable. (No PublicBaseUrl is fine: the route key may still point at a URL registered before.)
        if (request.CallbackType == CallbackTypes.Http
            && dingTalk.Value is { EffectiveMode: GatewayMode.Live, Callback.ApiSecret: var secret }
            && string.IsNullOrWhiteSpace(secret))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["callbackType"] = ["HTTP callbacks are off on this gateway (no DingTalk:Callback:ApiSecret to verify them), so every click on this card would be refused: leave callbackType out to use Stream."],
            });
        }

        var existing = request.OutTrackId is { } chosen ? await store.FindAsync(chosen, cancellationToken) : null;
        if (IdTakenByOtherKind(existing, CardKind.Advanced) is { } taken)
        {
            return taken;
        }

        var outTrackId = request.OutTrackId ?? $"card-{Guid.NewGuid():N}";
        var spec = new AdvancedCardSpec(
            request.CardTemplateId!,
            outTrackId,
            new CardTarget(request.OpenConversationId, request.UserIds),
            request.CardData,
            request.PrivateData,
            request.AtUserIds,
            request.CallbackType);

        var retryOfUnconfirmed = existing is { CreationConfirmed: false };
        if (retryOfUnconfirmed)
        {
            // The earlier send again, whether or not DingTalk created the card from it: the same card, as stored — its data
            // with the updates (and clicks) it got since, which the outbox sends DingTalk once the card is there. Created
            // from this request's data instead, the store would lose them while DingTalk got them.
            var planned = sender.Planned(spec);
            if (UnlikeTheEarlierSend(existing!, spec.CardTemplateId, planned.CallbackType, planned.OpenSpaceId) is { } unlike)
            {
                return unlike;
            }

            spec = AsStored(spec, existing!);
        }

        // Stored before DingTalk is asked, unconfirmed: a card DingTalk creates is then never one the gateway does not know,
        // whatever fails after. An id stored already (unconfirmed) keeps its row, with the updates and clicks it got,
        // whatever DingTalk answers.
        var now = clock.GetUtcNow();
        if (existing is null)
        {
            if (await store.TryAddUnconfirmedAsync(Record(spec, sender.Planned(spec), now), cancellationToken) is not { } stored)
            {
                return SendUnderWay(outTrackId);
            }

            if (stored.Version > 1) // changed since the record (version 1): updates were folded in
            {
                // Updates of the id queued before it had a card (an operator's PUT a moment earlier, retried while DingTalk
                // was down) reach the card once it exists, and the store folded them in: created as stored, so DingTalk
                // shows them from the start whatever becomes of those updates, and the store and DingTalk agree.
                spec = AsStored(spec, stored);
            }
        }

        CardDelivery delivery;
        try
        {
            delivery = await sender.CreateAndDeliverAsync(spec, retryOfUnconfirmed, cancellationToken);
        }
        catch (DingTalkApiException ex) when (existing is null && ex.CertainlyRefused && ex.Code != DingTalkErrors.OutTrackIdExists)
        {
            // DingTalk refused it, and no attempt of this send could have created it: there is no such card.
            await store.ForgetUnconfirmedAsync(outTrackId, CancellationToken.None);
            throw;
        }

        if (existing is null || retryOfUnconfirmed)
        {
            // Stored by this send, or by an earlier send of the same card (created by it, or now): the row has the card's data.
            await store.ConfirmCreationAsync(Record(spec, delivery, now), cancellationToken);
        }
        else
        {
            // Created now under the id of a card DingTalk had confirmed, and since forgot: a new card.
            await store.SaveAsync(Record(spec, delivery, now), cancellationToken);
        }

        // Asked for by name: sent as asked (another process of the same app may hold a Stream connection), but said, since
        // DingTalk calls a STREAM card back only over a Stream connection of its app, and this gateway opens none (Stream
        // mode as it started: the connection is opened, or not, at startup, whatever a reloaded configuration says).
        if (delivery.CallbackType == CallbackTypes.Stream && dingTalk.Value.EffectiveMode == GatewayMode.Live && !startup.Value.Stream.Enabled)
        {
            Log.StreamCardWithoutStream(logs.CreateLogger(typeof(CardAdminEndpoints)), delivery.OutTrackId);
        }

        return TypedResults.Created(
            $"/api/cards/{Uri.EscapeDataString(delivery.OutTrackId)}",
            new SendCardResponse(delivery.OutTrackId, delivery.CallbackType, delivery.AllDelivered, delivery.DeliverResults, delivery.Confirmed));
    }

    /// <summary>
    /// The store keeps one card per id whatever its kind, and saving a sent card overwrites the row: an advanced card and
    /// a normal robot card (DingTalk keeps their ids apart) may not share an id, or the later would take over the earlier's
    /// state and callbacks.
    /// </summary>
    internal static ProblemHttpResult? IdTakenByOtherKind(CardRecord? existing, CardKind kind) =>
        existing is not null && existing.Kind != kind
            ? TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Card id in use",
                detail: $"{existing.Id} is already {(existing.Kind == CardKind.Robot ? "a normal robot card" : "an advanced card")} of this gateway: choose another id.")
            : null;

    /// <summary>
    /// Another send of a new id stored its card between this send's look and its own store (two sends of one id at once):
    /// that one goes on, and this one would have overwritten its card. Sent again once that one has answered, it is that
    /// send again (or, confirmed, its card is there).
    /// </summary>
    internal static ProblemHttpResult SendUnderWay(string id) =>
        TypedResults.Problem(
            statusCode: StatusCodes.Status409Conflict,
            title: "Card id being sent",
            detail: $"Another send of {id} is under way: it stored the card a moment ago. Send this one again once that one has answered (it is then that send again).");

    /// <summary>
    /// A send of an id whose earlier send DingTalk has not confirmed (stored unconfirmed) is that send again: DingTalk may
    /// have the card from it. Another template, callback type or target would be another card under the same id, shown one
    /// way or the other depending on what became of the earlier send: 409.
    /// </summary>
    internal static ProblemHttpResult? UnlikeTheEarlierSend(CardRecord existing, string templateId, string? callbackType, string? openSpaceId)
    {
        string[] unlike =
        [
            .. string.Equals(existing.TemplateId, templateId, StringComparison.Ordinal) ? [] : new[] { $"template {existing.TemplateId}" },
            .. string.Equals(existing.CallbackType, callbackType, StringComparison.Ordinal) ? [] : new[] { $"callback type {existing.CallbackType}" },
            .. string.Equals(existing.OpenSpaceId, openSpaceId, StringComparison.Ordinal) ? [] : new[] { $"target {existing.OpenSpaceId}" },
        ];
        return unlike.Length == 0
            ? null
            : TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Card id in use by an unconfirmed send",
                detail: $"An earlier send of {existing.Id} (to {string.Join(", ", unlike)}) never learned whether DingTalk created it, and DingTalk may have it: "
                    + "send it again as it was, or this card under another id.");
    }

    /// <summary>The send of <paramref name="spec"/> with the data of the card as stored (string-encoded values back as values).</summary>
    private static AdvancedCardSpec AsStored(AdvancedCardSpec spec, CardRecord stored) => spec with
    {
        CardData = CardParamMapEncoder.AsValues(stored.PublicData),
        PrivateData = stored.PrivateData.ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, JsonElement>)CardParamMapEncoder.AsValues(p.Value), StringComparer.Ordinal),
    };

    /// <summary>The card as the gateway stores it once sent: what the operator gave, string-encoded, at version 1.</summary>
    private static CardRecord Record(AdvancedCardSpec spec, CardDelivery delivery, DateTimeOffset now) => new()
    {
        Id = delivery.OutTrackId,
        Kind = CardKind.Advanced,
        TemplateId = spec.CardTemplateId,
        CallbackType = delivery.CallbackType,
        OpenSpaceId = delivery.OpenSpaceId,
        PublicData = CardParamMapEncoder.Encode(spec.CardData),
        PrivateData = (spec.PrivateData ?? new Dictionary<string, IReadOnlyDictionary<string, System.Text.Json.JsonElement>>())
            .ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, string>)CardParamMapEncoder.Encode(p.Value)),
        Version = 1,
        CreatedAt = now,
        UpdatedAt = now,
    };

    private static async Task<Results<NoContent, Accepted<UpdateAccepted>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        string outTrackId,
        UpdateCardDataRequest request,
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

        var update = new PendingCardUpdate(outTrackId, CardKind.Advanced, request.CardData, request.PrivateData, request.Replace);
        return await OutboxDelivery.QueueAndWaitAsync(update, session, cards, updates, outbox, $"/api/cards/{Uri.EscapeDataString(outTrackId)}", cancellationToken);
    }

    /// <summary>
    /// One frame, in the card's turn (<see cref="CardTypewriter.SendFrameAsync"/>): at the card's pace, and never between
    /// two frames of a text the typewriter types into it — each carries the whole text so far, so either would overwrite
    /// the other — which is a 409 instead, with when to try again. Once DingTalk has the frame, the card's stored data
    /// keeps what the variable now shows, as a typed text's does, so <c>GET</c> shows it and a resend or a later update
    /// carries it rather than the older value: the content for a full frame, the stored value with the content appended
    /// for an appending one (<c>isFull: false</c>), as DingTalk appends it.
    /// <para>
    /// A frame does not wait in the card's outbox: it goes in the card's turn, at its pace. So an update of the card may
    /// reach DingTalk on either side of it — one still in the outbox when the frame goes (refused for now, or being sent),
    /// or one queued between the frame's read of the card and its store. The frame is stored on the card as it is then
    /// (under its lock, in order with the updates), and when any such update was about, the card's stored data is queued
    /// to be sent again behind them (a refresh, <see cref="PendingCardUpdate.RefreshOf"/>): whichever order DingTalk took
    /// them in, the card it shows ends as the card the gateway keeps.
    /// </para>
    /// </summary>
    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> StreamAsync(
        string outTrackId,
        StreamCardRequest request,
        CardSender sender,
        CardTypewriter typewriter,
        ICardStore store,
        StorageSession session,
        CardUpdates updates,
        IOutbox outbox,
        HttpResponse response,
        ILoggerFactory logs,
        CancellationToken cancellationToken)
    {
        if (request.Validate() is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(errors);
        }

        // DingTalk's streaming API knows advanced cards only: for a robot card it answers "no such card", which read as a
        // 404 for a card the gateway shows.
        if (await store.FindAsync(outTrackId, cancellationToken) is { Kind: CardKind.Robot } robot)
        {
            return OutboxDelivery.WrongKind(robot, "update it with PUT {0}/{1}");
        }

        var key = request.Key!;
        var turn = await typewriter.SendFrameAsync(
            outTrackId,
            async inTurn =>
            {
                // Read in the card's turn, so no other frame comes between. Updates may: one still unsent now can reach
                // DingTalk after this frame (the card read first, so an update sent before this look was taken before it).
                var read = await store.FindAsync(outTrackId, inTurn);
                var updateAbout = read is not null && (await outbox.UnsentForCardAsync(outTrackId, inTurn)).Any(e => e.Status == OutboxStatus.Pending);
                await sender.StreamAsync(StreamingFrame.Create(outTrackId, key, request.Content!, request.IsFull, request.IsFinalize, request.IsError), inTurn);

                // DingTalk has it: kept even if the caller has gone meanwhile. A card the gateway did not create has no row.
                await session.BeginAsync(CancellationToken.None);
                var stored = await store.ApplyUpdateAsync(outTrackId, FrameShown(key, request.Content!, request.IsFull), CancellationToken.None);
                if (stored is not null && (updateAbout || read is null || stored.Version != read.Version + 1))
                {
                    // An update on either side of the frame: DingTalk may show them in another order than the store took them.
                    await outbox.EnqueueAsync(PendingCardUpdate.RefreshOf(outTrackId, CardKind.Advanced), afterAnswer: false, CancellationToken.None);
                    Log.FrameRacedUpdate(logs.CreateLogger(typeof(CardAdminEndpoints)), outTrackId);
                }

                await session.CommitAsync(CancellationToken.None);
                updates.Wake();
            },
            cancellationToken);
        if (turn == FrameTurn.Sent)
        {
            return TypedResults.NoContent();
        }

        var retryAfter = (long)CardTypewriter.FrameWait.TotalSeconds;
        response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Log.FrameRefused(logs.CreateLogger(typeof(CardAdminEndpoints)), outTrackId, turn);
        return TypedResults.Problem(
            statusCode: StatusCodes.Status409Conflict,
            title: "A text is being typed into the card",
            detail: turn == FrameTurn.TextTyping
                ? $"The typewriter is typing a text into {outTrackId} (each of its frames carries the whole text so far, so this frame would be overwritten, or overwrite it): nothing was sent. Try again once it has ended, in {retryAfter} s (Retry-After); a text ends within Gateway:Handlers:StreamTimeout."
                : $"{outTrackId} did not come free within {retryAfter} s: another replica is typing a text into it (it holds the card's typing lease), or other frames kept it. Nothing was sent; try again in {retryAfter} s (Retry-After).");
    }

    /// <summary>What the variable shows after a frame, from the card as stored when the frame is: DingTalk appends a frame that is not full.</summary>
    private static CardDataChange FrameShown(string key, string content, bool isFull) =>
        new(null, null, Replace: false, PublicFrom: CardDataChange.Value(key, stored => isFull ? content : stored + content));

    private static async Task<Results<Ok<CardPage>, ValidationProblem>> ListAsync(
        CardListing listing, int? limit, string? after, [AllowedValues("dead", "pending")] string? undelivered, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > CardListing.MaxLimit)
        {
            errors["limit"] = [$"From 1 to {CardListing.MaxLimit} cards a page, not {limit}."];
        }

        OutboxStatus? status = undelivered?.ToLowerInvariant() switch
        {
            null => null,
            "dead" => OutboxStatus.Dead,
            "pending" => OutboxStatus.Pending,
            _ => null,
        };
        if (undelivered is not null && status is null)
        {
            errors["undelivered"] = ["dead (cards with dead-lettered updates) or pending (cards with updates still being sent)."];
        }

        return errors.Count > 0
            ? TypedResults.ValidationProblem(errors)
            : TypedResults.Ok(await listing.PageAsync(after, limit ?? CardListing.DefaultLimit, status, cancellationToken));
    }

    /// <summary>How many of a card's callbacks <c>GET /api/cards/{id}</c> shows: the rest are a page of its history away.</summary>
    internal const int RecentCallbacks = 100;

    /// <summary>
    /// A card the gateway did not create still shows what it holds for it — an update an operator sent that DingTalk
    /// refused (dead-lettered), callbacks — without <c>card</c>; 404 only when it knows nothing of the id.
    /// </summary>
    internal static async Task<Results<Ok<CardStateResponse>, ProblemHttpResult>> GetAsync(
        string outTrackId, ICardStore store, IOutbox outbox, ICallbackStore callbacks, SqlEffects effects, CancellationToken cancellationToken)
    {
        var card = await store.FindAsync(outTrackId, cancellationToken);
        var undelivered = await outbox.UnsentForCardAsync(outTrackId, cancellationToken);
        var recent = await callbacks.HistoryAsync(outTrackId, new CallbackHistoryQuery(RecentCallbacks), cancellationToken);
        var undone = await effects.UndoneForCardAsync(outTrackId, cancellationToken);
        return card is null && undelivered.Count == 0 && recent.Callbacks.Count == 0 && undone.Count == 0
            ? TypedResults.Problem(statusCode: 404, title: "Card not found", detail: $"The gateway has no card {outTrackId}, and no update or callback for it.")
            : TypedResults.Ok(new CardStateResponse(card, undelivered, [.. recent.Callbacks.Reverse()], undone, recent.Next));
    }

    private static partial class Log
    {
        [LoggerMessage(6121, LogLevel.Information, "A frame for card {CardId} was refused with 409 ({Turn}): a text is being typed into it, or the card did not come free in time")]
        public static partial void FrameRefused(ILogger logger, string cardId, FrameTurn turn);

        [LoggerMessage(6127, LogLevel.Information, "A frame for card {CardId} went while an update of the card was queued or being sent, so DingTalk may have taken the two in the other order: the card's stored data is sent again after them (a refresh), so DingTalk ends showing what the gateway keeps")]
        public static partial void FrameRacedUpdate(ILogger logger, string cardId);

        [LoggerMessage(3131, LogLevel.Warning, "Card {CardId} is sent with callbackType STREAM, but this gateway opens no Stream connection (DingTalk:Stream:Enabled is false): DingTalk calls such a card back only over a Stream connection of its app, so its clicks never reach this gateway (another process of the same app gets them only if it holds one). Enable DingTalk:Stream:Enabled, or leave callbackType out to use HTTP callbacks")]
        public static partial void StreamCardWithoutStream(ILogger logger, string cardId);
    }
}
