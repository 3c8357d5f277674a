using static DingTalk.Sandbox.Wire.Field;
using static DingTalk.Sandbox.Wire.JsonShape;

namespace DingTalk.Sandbox.Wire;

/// <summary>
/// Request bodies exactly as the official SDK models name them (<c>@alicloud/dingtalk</c> 2.2.27:
/// <c>card_1_0</c>, <c>im_1_0</c>, <c>oauth2_1_0</c>). Written from those models, not from the gateway's records,
/// so a naming slip on either side shows up as a 400.
/// </summary>
internal static class DingTalkSchemas
{
    public static readonly ObjectShape GetAccessToken = new(
        Required("appKey", Text),
        Required("appSecret", Text));

    public static readonly ObjectShape RegisterCallback = new(
        Required("callbackRouteKey", Text),
        Required("callbackUrl", Text),
        Optional("apiSecret", Text),
        Optional("forceUpdate", Flag));

    private static readonly ObjectShape CardData = new(Required("cardParamMap", TextMap));

    private static readonly JsonShape PrivateData = MapOf(new ObjectShape(Required("cardParamMap", TextMap)));

    private static readonly ObjectShape ImOpenSpaceModel = new(
        Optional("lastMessageI18n", TextMap),
        Optional("notification", new ObjectShape(
            Optional("alertContent", Text),
            Optional("notificationOff", Flag))),
        Optional("searchSupport", new ObjectShape(
            Optional("searchDesc", Text),
            Optional("searchIcon", Text),
            Optional("searchTypeName", Text))),
        Optional("supportForward", Flag));

    private static readonly ObjectShape OpenDynamicDataConfig = new(
        Optional("dynamicDataSourceConfigs", ListOf(new ObjectShape(
            Optional("constParams", TextMap),
            Optional("dynamicDataSourceId", Text),
            Optional("pullConfig", new ObjectShape(
                Optional("interval", Number),
                Optional("pullStrategy", Text),
                Optional("timeUnit", Text)))))));

    private static readonly Field[] CardFields =
    [
        Required("cardTemplateId", Text),
        Required("outTrackId", Text),
        Optional("callbackType", Text),
        Optional("callbackRouteKey", Text),
        Optional("cardAtUserIds", TextList),
        Required("cardData", CardData),
        Optional("privateData", PrivateData),
        Optional("openDynamicDataConfig", OpenDynamicDataConfig),
        Optional("userId", Text),
        Optional("userIdType", Number),
    ];

    private static readonly Field[] SpaceModelFields =
    [
        Optional("imGroupOpenSpaceModel", ImOpenSpaceModel),
        Optional("imRobotOpenSpaceModel", ImOpenSpaceModel),
        Optional("imSingleOpenSpaceModel", ImOpenSpaceModel),
        Optional("topOpenSpaceModel", new ObjectShape(Optional("spaceType", Text))),
        Optional("coFeedOpenSpaceModel", new ObjectShape(Optional("coolAppCode", Text), Optional("title", Text))),
    ];

    private static readonly Field[] DeliverModelFields =
    [
        Optional("imGroupOpenDeliverModel", new ObjectShape(
            Optional("robotCode", Text),
            Optional("atUserIds", TextMap),
            Optional("recipients", TextList),
            Optional("extension", TextMap))),
        Optional("imRobotOpenDeliverModel", new ObjectShape(
            Optional("spaceType", Text),
            Optional("robotCode", Text),
            Optional("extension", TextMap))),
        Optional("imSingleOpenDeliverModel", new ObjectShape(
            Optional("atUserIds", TextMap),
            Optional("extension", TextMap))),
        Optional("topOpenDeliverModel", new ObjectShape(
            Optional("expiredTimeMillis", Number),
            Optional("platforms", TextList),
            Optional("userIds", TextList))),
        Optional("coFeedOpenDeliverModel", new ObjectShape(
            Optional("bizTag", Text),
            Optional("gmtTimeLine", Number))),
        Optional("docOpenDeliverModel", new ObjectShape(Optional("userId", Text))),
    ];

    /// <summary>POST /v1.0/card/instances/createAndDeliver (CreateAndDeliverRequest).</summary>
    public static readonly ObjectShape CreateAndDeliver = new([
        .. CardFields,
        .. SpaceModelFields,
        .. DeliverModelFields,
        Required("openSpaceId", Text),
    ]);

    /// <summary>POST /v1.0/card/instances (CreateCardRequest): no deliver models, no openSpaceId.</summary>
    public static readonly ObjectShape CreateCard = new([.. CardFields, .. SpaceModelFields]);

    /// <summary>POST /v1.0/card/instances/deliver (DeliverCardRequest).</summary>
    public static readonly ObjectShape DeliverCard = new([
        Required("outTrackId", Text),
        Required("openSpaceId", Text),
        Optional("userIdType", Number),
        .. DeliverModelFields,
    ]);

    /// <summary>PUT /v1.0/card/instances (UpdateCardRequest).</summary>
    public static readonly ObjectShape UpdateCard = new(
        Required("outTrackId", Text),
        Optional("cardData", CardData),
        Optional("privateData", PrivateData),
        Optional("cardUpdateOptions", new ObjectShape(
            Optional("updateCardDataByKey", Flag),
            Optional("updatePrivateDataByKey", Flag))),
        Optional("userIdType", Number));

    /// <summary>
    /// PUT /v1.0/card/streaming (StreamingUpdateRequest). <c>isFull</c> is checked by the API itself, since
    /// DingTalk answers its absence with its own code.
    /// </summary>
    public static readonly ObjectShape StreamingUpdate = new(
        Required("outTrackId", Text),
        Required("guid", Text),
        Required("key", Text),
        RequiredMayBeEmpty("content", Text),
        Optional("isFull", Flag),
        Optional("isFinalize", Flag),
        Optional("isError", Flag));

    /// <summary>POST /v1.0/im/v1.0/robot/interactiveCards/send (SendRobotInteractiveCardRequest).</summary>
    public static readonly ObjectShape SendRobotInteractiveCard = new(
        Required("cardTemplateId", Text),
        Required("cardBizId", Text),
        Required("robotCode", Text),
        Required("cardData", JsonObjectText),
        Optional("openConversationId", Text),
        Optional("singleChatReceiver", JsonObjectText),
        Optional("callbackUrl", Text),
        Optional("userIdPrivateDataMap", JsonObjectText),
        Optional("unionIdPrivateDataMap", JsonObjectText),
        Optional("pullStrategy", Flag),
        Optional("sendOptions", new ObjectShape(
            Optional("atAll", Flag),
            Optional("atUserListJson", JsonArrayText),
            Optional("receiverListJson", JsonArrayText),
            Optional("cardPropertyJson", JsonObjectText))));

    /// <summary>PUT /v1.0/im/robots/interactiveCards (UpdateRobotInteractiveCardRequest).</summary>
    public static readonly ObjectShape UpdateRobotInteractiveCard = new(
        Required("cardBizId", Text),
        Optional("cardData", JsonObjectText),
        Optional("userIdPrivateDataMap", JsonObjectText),
        Optional("unionIdPrivateDataMap", JsonObjectText),
        Optional("updateOptions", new ObjectShape(
            Optional("updateCardDataByKey", Flag),
            Optional("updatePrivateDataByKey", Flag))));
}
