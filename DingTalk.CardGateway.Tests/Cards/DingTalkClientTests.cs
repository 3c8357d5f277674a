using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Cards;

/// <summary>Every OpenAPI call of the Refit clients, accepted by the strict fake DingTalk.</summary>
public class DingTalkClientTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>, IAsyncLifetime
{
    private IDingTalkCardApi Cards => fixture.Gateway.Services.GetRequiredService<IDingTalkCardApi>();

    private IDingTalkRobotApi Robot => fixture.Gateway.Services.GetRequiredService<IDingTalkRobotApi>();

    public Task InitializeAsync()
    {
        fixture.DingTalk.State.Reset();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task CreateAndDeliver_to_a_group_is_accepted_with_per_target_results()
    {
        var space = OpenSpace.For(new CardTarget("cidGroup1==", null), "test-robot");

        var response = await Cards.CreateAndDeliverAsync(CreateAndDeliver("c-group", space), CancellationToken.None);

        Assert.True(response.Success);
        Assert.Equal("c-group", response.Result!.OutTrackId);
        var result = Assert.Single(response.Result.DeliverResults!);
        Assert.True(result.Success);
        var card = fixture.DingTalk.State.FindCard("c-group")!;
        Assert.Equal("tpl.poll", card.CardTemplateId);
        Assert.Equal("Lunch?", card.CardData["title"]);
        Assert.Equal("HTTP", card.CallbackType);
        Assert.Equal("test-route", card.CallbackRouteKey);
    }

    [Fact]
    public async Task Create_then_deliver_to_users_is_accepted()
    {
        var space = OpenSpace.For(new CardTarget(null, ["u1", "u2"]), "test-robot");
        var created = await Cards.CreateAsync(
            new CreateCardRequest
            {
                CardTemplateId = "tpl.poll",
                OutTrackId = "c-two-step",
                CallbackType = "HTTP",
                CallbackRouteKey = "test-route",
                CardData = new CardData(new Dictionary<string, string> { ["title"] = "Hi" }),
                ImRobotOpenSpaceModel = space.ImRobotOpenSpaceModel,
                UserIdType = 1,
            },
            CancellationToken.None);

        var delivered = await Cards.DeliverAsync(
            new DeliverCardRequest { OutTrackId = "c-two-step", OpenSpaceId = space.OpenSpaceId, ImRobotOpenDeliverModel = space.ImRobotOpenDeliverModel, UserIdType = 1 },
            CancellationToken.None);

        Assert.Equal("c-two-step", created.Result);
        Assert.Equal(2, delivered.Result!.Count);
        Assert.All(delivered.Result, r => Assert.True(r.Success));
    }

    [Fact]
    public async Task Update_merges_by_key_and_streaming_records_frames()
    {
        await Cards.CreateAndDeliverAsync(CreateAndDeliver("c-update", OpenSpace.For(new CardTarget("cidG==", null), "test-robot")), CancellationToken.None);

        var updated = await Cards.UpdateAsync(
            new UpdateCardRequest
            {
                OutTrackId = "c-update",
                CardData = new CardData(new Dictionary<string, string> { ["total"] = "3" }),
                PrivateData = new Dictionary<string, CardData> { ["u1"] = new(new Dictionary<string, string> { ["myVote"] = "a" }) },
                CardUpdateOptions = new CardUpdateOptions(true, true),
            },
            CancellationToken.None);
        await Cards.StreamingUpdateAsync(new StreamingUpdateRequest("c-update", "g1", "content", "Hel", true, false, false), CancellationToken.None);
        await Cards.StreamingUpdateAsync(new StreamingUpdateRequest("c-update", "g2", "content", "Hello", true, true, false), CancellationToken.None);

        Assert.True(updated.Result);
        var card = fixture.DingTalk.State.FindCard("c-update")!;
        Assert.Equal("Lunch?", card.CardData["title"]);
        Assert.Equal("3", card.CardData["total"]);
        Assert.Equal("a", card.PrivateData["u1"]["myVote"]);
        Assert.Equal("Hello", card.StreamingText("content"));
    }

    [Fact]
    public async Task An_update_under_a_lease_not_renewed_in_time_is_not_sent_and_the_lease_counts_as_lost()
    {
        await Cards.CreateAndDeliverAsync(CreateAndDeliver("c-fenced", OpenSpace.For(new CardTarget("cidG==", null), "test-robot")), CancellationToken.None);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var lease = TimeSpan.FromSeconds(15);
        using var lost = new CancellationTokenSource();
        var fence = new DingTalk.CardGateway.Storage.LeaseFence(clock, lease, clock.GetUtcNow() + lease, lost);
        Task Update(string total) => DingTalk.CardGateway.Storage.LeaseFence.RunAsync(
            fence,
            () => Cards.UpdateAsync(new UpdateCardRequest { OutTrackId = "c-fenced", CardData = new CardData(new Dictionary<string, string> { ["total"] = total }) }, lost.Token));

        await Update("1"); // the lease just taken
        clock.Advance(TimeSpan.FromSeconds(14)); // the process frozen: no renewal for 14 s of a 15 s lease
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Update("2"));

        Assert.True(lost.IsCancellationRequested, "the lease was not counted as lost");
        Assert.Single(fixture.DingTalk.State.RequestsTo("/v1.0/card/instances"), r => r.Method == "PUT");
        Assert.Equal("1", fixture.DingTalk.State.FindCard("c-fenced")!.CardData["total"]);
    }

    [Fact]
    public async Task An_update_under_a_lease_renewed_in_time_is_sent()
    {
        await Cards.CreateAndDeliverAsync(CreateAndDeliver("c-renewed", OpenSpace.For(new CardTarget("cidG==", null), "test-robot")), CancellationToken.None);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var lease = TimeSpan.FromSeconds(15);
        using var lost = new CancellationTokenSource();
        var fence = new DingTalk.CardGateway.Storage.LeaseFence(clock, lease, clock.GetUtcNow() + lease, lost);

        clock.Advance(TimeSpan.FromSeconds(14));
        fence.Renewed(clock.GetUtcNow() + lease);
        await DingTalk.CardGateway.Storage.LeaseFence.RunAsync(
            fence,
            () => Cards.UpdateAsync(new UpdateCardRequest { OutTrackId = "c-renewed", CardData = new CardData(new Dictionary<string, string> { ["total"] = "2" }) }, lost.Token));

        Assert.False(lost.IsCancellationRequested);
        Assert.Equal("2", fixture.DingTalk.State.FindCard("c-renewed")!.CardData["total"]);
    }

    [Fact]
    public async Task Callback_registration_answers_with_the_registered_url()
    {
        var response = await Cards.RegisterCallbackAsync(
            new RegisterCallbackRequest("route-x", "https://gw.example/dingtalk/callbacks/card", "secret-x-123456", ForceUpdate: false),
            CancellationToken.None);

        Assert.True(response.Success);
        Assert.Equal("https://gw.example/dingtalk/callbacks/card", response.Result!.CallbackUrl);
        Assert.Equal("https://gw.example/dingtalk/callbacks/card", fixture.DingTalk.State.Callbacks["route-x"].CallbackUrl);
    }

    [Fact]
    public async Task Robot_cards_are_sent_and_updated_with_JSON_string_fields()
    {
        var sent = await Robot.SendInteractiveCardAsync(
            new SendRobotInteractiveCardRequest
            {
                CardTemplateId = "StandardCard",
                CardBizId = "biz-1",
                RobotCode = "test-robot",
                CardData = """{"header":{"title":{"type":"text","text":"Hi"}},"contents":[]}""",
                SingleChatReceiver = """{"userId":"u1"}""",
                CallbackUrl = "https://gw.example/dingtalk/callbacks/robot-card/abc",
            },
            new SendOnce(),
            CancellationToken.None);
        var updated = await Robot.UpdateInteractiveCardAsync(
            new UpdateRobotInteractiveCardRequest
            {
                CardBizId = "biz-1",
                CardData = """{"header":{"title":{"type":"text","text":"Bye"}},"contents":[]}""",
                UpdateOptions = new RobotCardUpdateOptions(true, true),
            },
            CancellationToken.None);

        Assert.False(string.IsNullOrEmpty(sent.ProcessQueryKey));
        Assert.False(string.IsNullOrEmpty(updated.ProcessQueryKey));
        var card = fixture.DingTalk.State.FindRobotCard("biz-1")!;
        Assert.Contains("Bye", card.CardData, StringComparison.Ordinal);
        Assert.Equal(1, card.UpdateCount);
    }

    [Fact]
    public async Task A_DingTalk_error_surfaces_as_a_typed_exception_with_its_code()
    {
        var ex = await Assert.ThrowsAsync<DingTalkApiException>(() => Cards.UpdateAsync(
            new UpdateCardRequest { OutTrackId = "no-such-card", CardData = new CardData(new Dictionary<string, string> { ["a"] = "b" }) },
            CancellationToken.None));

        Assert.Equal("param.cardNotExist", ex.Code);
        Assert.Equal(DingTalkErrorKind.NotFound, ex.Kind);
        Assert.False(string.IsNullOrEmpty(ex.RequestId));
    }

    [Fact]
    public async Task Every_call_carries_the_one_shared_token()
    {
        await Cards.CreateAndDeliverAsync(CreateAndDeliver("c-token", OpenSpace.For(new CardTarget("cidG==", null), "test-robot")), CancellationToken.None);
        await Cards.StreamingUpdateAsync(new StreamingUpdateRequest("c-token", "g1", "content", "x", true, true, false), CancellationToken.None);

        var tokens = fixture.DingTalk.State.Requests
            .Where(r => r.Status == 200 && !r.Path.Contains("oauth2", StringComparison.Ordinal))
            .Select(r => r.AccessToken).Distinct().ToList();
        Assert.Single(tokens);
        Assert.False(string.IsNullOrEmpty(tokens[0]));
    }

    private static CreateAndDeliverRequest CreateAndDeliver(string outTrackId, OpenSpace space) => new()
    {
        CardTemplateId = "tpl.poll",
        OutTrackId = outTrackId,
        CallbackType = "HTTP",
        CallbackRouteKey = "test-route",
        CardData = new CardData(new Dictionary<string, string> { ["title"] = "Lunch?" }),
        OpenSpaceId = space.OpenSpaceId,
        ImGroupOpenSpaceModel = space.ImGroupOpenSpaceModel,
        ImGroupOpenDeliverModel = space.ImGroupOpenDeliverModel,
        ImRobotOpenSpaceModel = space.ImRobotOpenSpaceModel,
        ImRobotOpenDeliverModel = space.ImRobotOpenDeliverModel,
        UserIdType = 1,
    };
}
