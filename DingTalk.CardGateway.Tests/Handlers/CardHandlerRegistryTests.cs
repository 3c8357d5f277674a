using System.Text;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Tests.Handlers;

public class CardHandlerRegistryTests
{
    private static readonly CardRecord PollCard = new() { Id = "c1", Kind = CardKind.Advanced, TemplateId = "tpl.poll" };

    [Fact]
    public void The_match_naming_more_criteria_wins()
    {
        var registry = Registry((typeof(Generic), on => on.Action("vote")), (typeof(Specific), on => on.Template("tpl.poll").Action("vote")));

        Assert.Equal(typeof(Specific), registry.Find(Click(action: "vote"), PollCard)?.HandlerType);
        Assert.Equal(typeof(Generic), registry.Find(Click(action: "vote"), PollCard with { TemplateId = "tpl.other" })?.HandlerType);
        Assert.Equal(typeof(Generic), registry.Find(Click(action: "vote"), card: null)?.HandlerType);
    }

    [Fact]
    public void Among_equal_matches_the_last_registered_wins_so_an_application_can_override_a_shipped_handler()
    {
        var registry = Registry((typeof(Generic), on => on.Action("vote")), (typeof(Specific), on => on.Action("vote")));

        Assert.Equal(typeof(Specific), registry.Find(Click(action: "vote"), PollCard)?.HandlerType);
    }

    [Fact]
    public void Action_ids_and_dynamic_data_pulls_are_matched_by_their_own_criteria()
    {
        var registry = Registry((typeof(Generic), on => on.ActionId("agree_btn")), (typeof(Specific), on => on.Template("tpl.poll").DynamicData()));

        Assert.Equal(typeof(Generic), registry.Find(Click(actionIds: ["x", "agree_btn"]), PollCard)?.HandlerType);
        Assert.Null(registry.Find(Click(actionIds: ["other"]), PollCard));
        Assert.Equal(typeof(Specific), registry.Find(Click(type: CardActionType.DynamicDataCallback), PollCard)?.HandlerType);
        Assert.Null(registry.Find(Click(), PollCard));
    }

    [Theory]
    [InlineData("vote", null, true, """builder.Services.AddCardActionHandler<MyHandler>(on => on.Template("tpl.poll").Action("vote"));""")]
    [InlineData(null, "agree_btn", true, """builder.Services.AddCardActionHandler<MyHandler>(on => on.Template("tpl.poll").ActionId("agree_btn"));""")]
    [InlineData("say \"hi\"\n", null, false, """builder.Services.AddCardActionHandler<MyHandler>(on => on.Action("say \"hi\"?"));""")]
    public void The_suggested_registration_is_a_line_to_paste(string? action, string? actionId, bool knownCard, string expected) =>
        Assert.Equal(expected, CardHandlerRegistry.SuggestRegistration(Click(action, actionId is null ? [] : [actionId]), knownCard ? PollCard : null));

    [Fact]
    public void One_registration_answers_any_of_the_actions_it_names()
    {
        var registry = Registry((typeof(Generic), on => on.Template("tpl.poll").Action("join", "leave")));

        Assert.Equal(typeof(Generic), registry.Find(Click(action: "join"), PollCard)?.HandlerType);
        Assert.Equal(typeof(Generic), registry.Find(Click(action: "leave"), PollCard)?.HandlerType);
        Assert.Null(registry.Find(Click(action: "vote"), PollCard));
        Assert.Null(registry.Find(Click(), PollCard));
        Assert.Equal("""on.Template("tpl.poll").Action("join", "leave")""", registry.Registrations[0].Match.ToString());
    }

    [Fact]
    public void A_click_with_nothing_to_route_it_by_is_told_what_to_give_it_not_a_registration_that_answers_every_click()
    {
        var suggestion = CardHandlerRegistry.SuggestRegistration(Click(), null);

        Assert.DoesNotContain("on => on)", suggestion, StringComparison.Ordinal);
        Assert.StartsWith("nothing in this click to route it by", suggestion, StringComparison.Ordinal);
        Assert.EndsWith("""AddCardActionHandler<MyHandler>(on => on.Action("close"));""", suggestion, StringComparison.Ordinal);
    }

    [Fact]
    public void An_action_a_registration_misses_by_one_criterion_names_that_registration_beside_the_line_to_paste()
    {
        var registry = Registry(
            (typeof(Generic), on => on.Action("vote")),
            (typeof(Specific), on => on.Template("tpl.poll").Action("join", "leave")),
            (typeof(Other), on => on.Template("tpl.other").ActionId("agree_btn")));

        Assert.Equal(
            """builder.Services.AddCardActionHandler<MyHandler>(on => on.Template("tpl.poll").Action("stay")); """
            + """or Specific is registered for on.Template("tpl.poll").Action("join", "leave"), which this click misses only by its params.action "stay".""",
            registry.Unclaimed(Click(action: "stay"), PollCard));
        Assert.EndsWith(
            """or Specific is registered for on.Template("tpl.poll").Action("join", "leave"), which this click misses only by its card's template "tpl.Poll".""",
            registry.Unclaimed(Click(action: "join"), PollCard with { TemplateId = "tpl.Poll" }), StringComparison.Ordinal);
        Assert.EndsWith(
            """Other is registered for on.Template("tpl.other").ActionId("agree_btn"), which this click misses only by its actionIds "agree\"btn?".""",
            registry.Unclaimed(Click(actionIds: ["agree\"btn\n"]), PollCard with { TemplateId = "tpl.other" }), StringComparison.Ordinal);
    }

    [Fact]
    public void A_registration_missed_by_more_than_one_criterion_or_naming_only_one_is_not_offered()
    {
        var registry = Registry((typeof(Generic), on => on.Action("vote")), (typeof(Specific), on => on.Template("tpl.poll").Action("join")));

        Assert.Equal(
            CardHandlerRegistry.SuggestRegistration(Click(action: "stay"), PollCard with { TemplateId = "tpl.other" }),
            registry.Unclaimed(Click(action: "stay"), PollCard with { TemplateId = "tpl.other" }));
    }

    [Fact]
    public void A_recorded_click_is_routed_now_as_its_callback_would_be_claimed_or_told_the_line_3101_gave_it()
    {
        var registry = Registry(
            (typeof(Specific), on => on.Template("tpl.poll").Action("join", "leave")),
            (typeof(Other), on => on.Template("tpl.other").ActionId("agree_btn")));

        Assert.Equal((null, registry.Unclaimed(Click(action: "stay"), PollCard)), registry.Route(Recorded(Click(action: "stay")), "tpl.poll"));
        Assert.Equal(typeof(Specific), registry.Route(Recorded(Click(action: "join")), "tpl.poll") is ({ } claims, null) ? claims.HandlerType : null);
        Assert.Equal(typeof(Other), registry.Route(Recorded(Click(actionIds: ["x", "agree_btn"])), "tpl.other").Claims?.HandlerType);
        Assert.Equal(
            registry.Unclaimed(Click(type: CardActionType.DynamicDataCallback), card: null),
            registry.Route(Recorded(Click(type: CardActionType.DynamicDataCallback)), templateId: null).Unclaimed);
        Assert.Equal(
            registry.Unclaimed(Click(action: "join"), PollCard with { TemplateId = "tpl.Poll" }),
            registry.Route(Recorded(Click(action: "join")), "tpl.Poll").Unclaimed);
    }

    private static CardHandlerRegistry Registry(params (Type Handler, Func<CardActionMatch, CardActionMatch> On)[] registrations) =>
        new(registrations.Select(r => new CardHandlerRegistration(r.Handler, r.On(new CardActionMatch()))));

    private static CardAction Click(string? action = null, string[]? actionIds = null, CardActionType type = CardActionType.ActionCallback)
    {
        var parameters = action is null ? "{}" : System.Text.Json.JsonSerializer.Serialize(new { action });
        var body = System.Text.Json.JsonSerializer.Serialize(new
        {
            type = type == CardActionType.ActionCallback ? "actionCallback" : "dynamicDataCallback",
            outTrackId = "c1",
            userId = "u1",
            content = "{\"cardPrivateData\":{\"actionIds\":" + System.Text.Json.JsonSerializer.Serialize(actionIds ?? []) + ",\"params\":" + parameters + "}}",
        });
        Assert.True(CardActionParser.TryParse(Encoding.UTF8.GetBytes(body), CallbackTransport.Http, "1", out var parsed, out var problem), problem);
        return parsed;
    }

    private sealed class Generic;

    private sealed class Specific;

    private sealed class Other;

    /// <summary>The click as the pipeline records it.</summary>
    private static CallbackRecord Recorded(CardAction click) => CallbackRecord.Received(click, DateTimeOffset.UnixEpoch);
}
