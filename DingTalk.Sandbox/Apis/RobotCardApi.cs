using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.Sandbox.State;
using DingTalk.Sandbox.Wire;
using Microsoft.AspNetCore.Http;

namespace DingTalk.Sandbox.Apis;

/// <summary>Normal robot cards (StandardCard): send and update, with every structured field a JSON string.</summary>
internal static class RobotCardApi
{
    /// <summary>The one template this API takes: DingTalk documents <c>cardTemplateId</c> as the fixed value <c>StandardCard</c>.</summary>
    public const string StandardCardTemplate = "StandardCard";

    /// <summary>POST /v1.0/im/v1.0/robot/interactiveCards/send → {processQueryKey}.</summary>
    public static SandboxAnswer Send(SandboxCall call, SandboxState state)
    {
        if (call.ReadBody(DingTalkSchemas.SendRobotInteractiveCard, out var body) is { } invalid)
        {
            return invalid;
        }

        if (body.Text("cardTemplateId") is { } template && !string.Equals(template, StandardCardTemplate, StringComparison.Ordinal))
        {
            // The code is the sandbox's choice: DingTalk documents the value as fixed, not its answer to another one.
            return SandboxAnswer.Invalid($"cardTemplateId must be {StandardCardTemplate} for a normal robot card, not '{template}'");
        }

        var toGroup = body.HasValue("openConversationId");
        var toUser = body.HasValue("singleChatReceiver");
        if (toGroup == toUser)
        {
            return toGroup
                ? SandboxAnswer.Invalid("give openConversationId (a group) or singleChatReceiver (one user), not both")
                : SandboxAnswer.Missing("openConversationId");
        }

        if (toUser && CheckReceiver(body.Text("singleChatReceiver")!) is { } badReceiver)
        {
            return badReceiver;
        }

        if (body.Text("callbackUrl") is { } url && !Uri.TryCreate(url, UriKind.Absolute, out _))
        {
            return SandboxAnswer.Invalid($"callbackUrl must be an absolute URL, not '{url}'");
        }

        var cardBizId = body.Text("cardBizId")!;
        if (state.RobotCardRecords.ContainsKey(cardBizId))
        {
            return SandboxAnswer.Error(StatusCodes.Status400BadRequest, "param.cardBizIdExist", $"cardBizId {cardBizId} already exists");
        }

        state.RobotCardRecords.Add(cardBizId, new RobotCardRecord(cardBizId, body.Text("cardTemplateId")!, body.Text("robotCode")!)
        {
            CardData = body.Text("cardData")!,
            CallbackUrl = body.Text("callbackUrl"),
            OpenConversationId = body.Text("openConversationId"),
            SingleChatReceiver = body.Text("singleChatReceiver"),
            UserIdPrivateDataMap = body.Text("userIdPrivateDataMap"),
            UnionIdPrivateDataMap = body.Text("unionIdPrivateDataMap"),
        });
        state.CardsChanged();
        return SandboxAnswer.Ok(new JsonObject { ["processQueryKey"] = state.NextId("pqk-") });
    }

    /// <summary>PUT /v1.0/im/robots/interactiveCards → {processQueryKey}; replaces the JSON unless updateOptions asks to merge by key.</summary>
    public static SandboxAnswer Update(SandboxCall call, SandboxState state)
    {
        if (call.ReadBody(DingTalkSchemas.UpdateRobotInteractiveCard, out var body) is { } invalid)
        {
            return invalid;
        }

        var cardBizId = body.Text("cardBizId")!;
        if (!state.RobotCardRecords.TryGetValue(cardBizId, out var card))
        {
            return SandboxAnswer.CardNotExist(cardBizId);
        }

        var options = body.Child("updateOptions");
        var cardDataByKey = options?.Flag("updateCardDataByKey") == true;
        var privateDataByKey = options?.Flag("updatePrivateDataByKey") == true;

        if (body.Text("cardData") is { } cardData)
        {
            card.CardData = cardDataByKey ? MergeByKey(card.CardData, cardData) : cardData;
        }

        if (body.Text("userIdPrivateDataMap") is { } userIdPrivate)
        {
            card.UserIdPrivateDataMap = privateDataByKey ? MergeByKey(card.UserIdPrivateDataMap, userIdPrivate) : userIdPrivate;
        }

        if (body.Text("unionIdPrivateDataMap") is { } unionIdPrivate)
        {
            card.UnionIdPrivateDataMap = privateDataByKey ? MergeByKey(card.UnionIdPrivateDataMap, unionIdPrivate) : unionIdPrivate;
        }

        card.UpdateCount++;
        state.CardsChanged();
        return SandboxAnswer.Ok(new JsonObject { ["processQueryKey"] = state.NextId("pqk-") });
    }

    private static SandboxAnswer? CheckReceiver(string receiver)
    {
        using var document = JsonDocument.Parse(receiver);
        var root = document.RootElement;
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name is not ("userId" or "unionId"))
            {
                return SandboxAnswer.Invalid($"unknown property '{property.Name}' in singleChatReceiver (allowed: unionId, userId)");
            }

            if (property.Value.ValueKind != JsonValueKind.String)
            {
                return SandboxAnswer.Invalid($"singleChatReceiver.{property.Name} must be a string, not {JsonShape.Describe(property.Value.ValueKind)}");
            }
        }

        return root.HasValue("userId") || root.HasValue("unionId")
            ? null
            : SandboxAnswer.Invalid("singleChatReceiver must name a userId or a unionId, e.g. {\"userId\":\"manager4508\"}");
    }

    /// <summary>Top-level keys of <paramref name="update"/> overwrite those of <paramref name="current"/>; both hold JSON objects.</summary>
    private static string MergeByKey(string? current, string update)
    {
        var merged = current is null ? new JsonObject() : JsonNode.Parse(current)!.AsObject();
        foreach (var (key, value) in JsonNode.Parse(update)!.AsObject())
        {
            merged[key] = value?.DeepClone();
        }

        return merged.ToJsonString();
    }
}
