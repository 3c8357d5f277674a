using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.Sandbox.State;
using DingTalk.Sandbox.Wire;
using Microsoft.AspNetCore.Http;

namespace DingTalk.Sandbox.Apis;

/// <summary>Advanced cards: create, deliver, both at once, and update (<c>/v1.0/card/instances…</c>).</summary>
internal static class CardInstanceApi
{
    /// <summary>A space id containing this text fails inside a 200, so partial failure can be tested.</summary>
    public const string IllegalSpaceMarker = "illegal";

    /// <summary>POST /v1.0/card/instances/createAndDeliver → {success, result{outTrackId, deliverResults[]}}.</summary>
    public static SandboxAnswer CreateAndDeliver(SandboxCall call, SandboxState state)
    {
        if (call.ReadBody(DingTalkSchemas.CreateAndDeliver, out var body) is { } invalid)
        {
            return invalid;
        }

        if (CheckCardFields(body) is { } refused)
        {
            return refused;
        }

        if (CheckTargets(body, model => body.TryGetValue(model, out _), "", out var spaces) is { } badTarget)
        {
            return badTarget;
        }

        if (CheckNew(body, state) is { } duplicate)
        {
            return duplicate;
        }

        var card = Create(body, state);
        var results = Deliver(card, body.Text("openSpaceId")!, spaces, state);
        return SandboxAnswer.Ok(new JsonObject
        {
            ["success"] = true,
            ["result"] = new JsonObject { ["outTrackId"] = card.OutTrackId, ["deliverResults"] = results },
        });
    }

    /// <summary>POST /v1.0/card/instances → {success, result: outTrackId}.</summary>
    public static SandboxAnswer CreateCard(SandboxCall call, SandboxState state)
    {
        if (call.ReadBody(DingTalkSchemas.CreateCard, out var body) is { } invalid)
        {
            return invalid;
        }

        if ((CheckCardFields(body) ?? CheckNew(body, state)) is { } refused)
        {
            return refused;
        }

        var card = Create(body, state);
        return SandboxAnswer.Ok(new JsonObject { ["success"] = true, ["result"] = card.OutTrackId });
    }

    /// <summary>POST /v1.0/card/instances/deliver → {success, result[deliverResults]}; space models come from creation.</summary>
    public static SandboxAnswer DeliverCard(SandboxCall call, SandboxState state)
    {
        if (ReadCardCall(call, state, DingTalkSchemas.DeliverCard, out var body, out var card) is { } refused)
        {
            return refused;
        }

        const string hint = " (it must be given when the card is created)";
        if (CheckTargets(body, card.SpaceModels.Contains, hint, out var spaces) is { } badTarget)
        {
            return badTarget;
        }

        var results = Deliver(card, body.Text("openSpaceId")!, spaces, state);
        return SandboxAnswer.Ok(new JsonObject { ["success"] = true, ["result"] = results });
    }

    /// <summary>PUT /v1.0/card/instances → {success, result: true}; replaces maps unless cardUpdateOptions asks to merge by key.</summary>
    public static SandboxAnswer UpdateCard(SandboxCall call, SandboxState state)
    {
        if (ReadCardCall(call, state, DingTalkSchemas.UpdateCard, out var body, out var card) is { } refused)
        {
            return refused;
        }

        var options = body.Child("cardUpdateOptions");
        var cardDataByKey = options?.Flag("updateCardDataByKey") == true;
        var privateDataByKey = options?.Flag("updatePrivateDataByKey") == true;

        if (body.Child("cardData") is { } cardData)
        {
            card.UpdateCardData(cardData.GetProperty("cardParamMap").ToTextMap(), cardDataByKey);
        }

        if (body.Child("privateData") is { } privateData)
        {
            foreach (var user in privateData.EnumerateObject())
            {
                card.UpdatePrivateData(user.Name, user.Value.GetProperty("cardParamMap").ToTextMap(), privateDataByKey);
            }
        }

        card.UpdateCount++;
        state.CardsChanged();
        return SandboxAnswer.Ok(new JsonObject { ["success"] = true, ["result"] = true });
    }

    /// <summary>A call on a card the sandbox created: the body as its schema wants it, the card, a valid userIdType.</summary>
    private static SandboxAnswer? ReadCardCall(SandboxCall call, SandboxState state, ObjectShape schema, out JsonElement body, out CardRecord card)
    {
        card = null!;
        if (call.ReadBody(schema, out body) is { } invalid)
        {
            return invalid;
        }

        var outTrackId = body.Text("outTrackId")!;
        if (!state.CardRecords.TryGetValue(outTrackId, out var found))
        {
            return SandboxAnswer.CardNotExist(outTrackId);
        }

        card = found;
        return CheckUserIdType(body);
    }

    private static SandboxAnswer? CheckCardFields(JsonElement body)
    {
        switch (body.Text("callbackType"))
        {
            case null or "STREAM":
                break;
            case "HTTP" when !body.HasValue("callbackRouteKey"):
                return SandboxAnswer.Error(
                    StatusCodes.Status400BadRequest,
                    "MissingcallbackRouteKey",
                    "callbackRouteKey is mandatory for this action when callbackType is HTTP.");
            case "HTTP":
                break;
            case var other:
                return SandboxAnswer.Invalid($"callbackType must be HTTP or STREAM, not '{other}'");
        }

        return CheckUserIdType(body);
    }

    private static SandboxAnswer? CheckUserIdType(JsonElement body) =>
        body.Child("userIdType") is { } type && !(type.TryGetInt32(out var value) && value is 1 or 2)
            ? SandboxAnswer.Invalid($"userIdType must be 1 (userId) or 2 (unionId), not {type.GetRawText()}")
            : null;

    private static SandboxAnswer? CheckNew(JsonElement body, SandboxState state)
    {
        var outTrackId = body.Text("outTrackId")!;
        return state.CardRecords.ContainsKey(outTrackId)
            ? SandboxAnswer.Error(StatusCodes.Status400BadRequest, "param.outTrackIdExist", $"outTrackId {outTrackId} already exists")
            : null;
    }

    /// <summary>Each space in openSpaceId needs its …OpenSpaceModel (in the request, or given at creation) and its …OpenDeliverModel.</summary>
    private static SandboxAnswer? CheckTargets(JsonElement body, Func<string, bool> hasSpaceModel, string spaceModelHint, out List<OpenSpace> spaces)
    {
        if (!OpenSpace.TryParseAll(body.Text("openSpaceId")!, out var parsed, out var error))
        {
            spaces = [];
            return SandboxAnswer.Invalid(error);
        }

        spaces = parsed;
        foreach (var space in spaces)
        {
            if (space.SpaceModel is not null && !hasSpaceModel(space.SpaceModel))
            {
                return MissingFor(space, space.SpaceModel, spaceModelHint);
            }

            if (body.Child(space.DeliverModel) is not { } deliver)
            {
                return MissingFor(space, space.DeliverModel, "");
            }

            if (space.SpaceType == "IM_GROUP" && !deliver.HasValue("robotCode"))
            {
                return MissingFor(space, $"{space.DeliverModel}.robotCode", "");
            }

            if (space.SpaceType == "IM_ROBOT" && deliver.Text("spaceType") != "IM_ROBOT")
            {
                return deliver.HasValue("spaceType")
                    ? SandboxAnswer.Invalid($"{space.DeliverModel}.spaceType must be IM_ROBOT, not '{deliver.Text("spaceType")}'")
                    : MissingFor(space, $"{space.DeliverModel}.spaceType", "");
            }
        }

        return null;
    }

    private static SandboxAnswer MissingFor(OpenSpace space, string path, string hint) => SandboxAnswer.Error(
        StatusCodes.Status400BadRequest,
        "Missing" + path[(path.LastIndexOf('.') + 1)..],
        $"{path} is mandatory for this action: openSpaceId names {space.SpaceType}{hint}.");

    private static CardRecord Create(JsonElement body, SandboxState state)
    {
        var card = new CardRecord(body.Text("outTrackId")!, body.Text("cardTemplateId")!, state.Time.GetUtcNow())
        {
            CallbackType = body.Text("callbackType") ?? "",
            CallbackRouteKey = body.Text("callbackRouteKey"),
            CardData = body.GetProperty("cardData").GetProperty("cardParamMap").ToTextMap(),
        };

        if (body.Child("privateData") is { } privateData)
        {
            foreach (var user in privateData.EnumerateObject())
            {
                card.PrivateData[user.Name] = user.Value.GetProperty("cardParamMap").ToTextMap();
            }
        }

        foreach (var property in body.EnumerateObject())
        {
            if (property.Name.EndsWith("OpenSpaceModel", StringComparison.Ordinal) && property.Value.ValueKind != JsonValueKind.Null)
            {
                card.SpaceModels.Add(property.Name);
            }
        }

        state.CardRecords.Add(card.OutTrackId, card);
        state.CardsChanged();
        return card;
    }

    private static JsonArray Deliver(CardRecord card, string openSpaceId, List<OpenSpace> spaces, SandboxState state)
    {
        card.OpenSpaceIds.Add(openSpaceId);
        state.CardsChanged();
        var results = new JsonArray();
        foreach (var space in spaces)
        {
            var success = !space.SpaceId.Contains(IllegalSpaceMarker, StringComparison.Ordinal);
            var delivery = new SandboxDelivery(
                space.SpaceType,
                space.SpaceId,
                success,
                success ? state.NextId("carrier-") : null,
                success ? null : "spaceId is illegal");
            card.Deliveries.Add(delivery);
            results.Add(new JsonObject
            {
                ["spaceType"] = delivery.SpaceType,
                ["spaceId"] = delivery.SpaceId,
                ["success"] = delivery.Success,
                ["errorMsg"] = delivery.ErrorMessage,
                ["carrierId"] = delivery.CarrierId,
            });
        }

        return results;
    }
}
