using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.Sandbox.Apis;
using DingTalk.Sandbox.Stream;
using DingTalk.Sandbox.Wire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.Sandbox;

public static class SandboxEndpoints
{
    private static readonly SandboxRoute[] Routes =
    [
        new("POST", "/v1.0/oauth2/accessToken", TokenApi.GetAccessToken, NeedsToken: false, IsTokenCall: true),
        new("GET", "/gettoken", TokenApi.GetLegacyToken, NeedsToken: false, IsTokenCall: true),
        new("POST", "/v1.0/card/callbacks/register", CallbackRegistrationApi.Register),
        new("POST", "/v1.0/card/instances/createAndDeliver", CardInstanceApi.CreateAndDeliver),
        new("POST", "/v1.0/card/instances", CardInstanceApi.CreateCard),
        new("POST", "/v1.0/card/instances/deliver", CardInstanceApi.DeliverCard),
        new("PUT", "/v1.0/card/instances", CardInstanceApi.UpdateCard),
        new("PUT", "/v1.0/card/streaming", StreamingApi.StreamingUpdate),
        new("POST", "/v1.0/im/v1.0/robot/interactiveCards/send", RobotCardApi.Send),
        new("PUT", "/v1.0/im/robots/interactiveCards", RobotCardApi.Update),
        new("POST", StreamProtocol.OpenConnectionPath, StreamApi.Open, NeedsToken: false),
    ];

    /// <summary>Any other path or method: DingTalk's own 404, whatever the token.</summary>
    private static readonly SandboxRoute UnknownApi = new(
        "*",
        "/{**path}",
        (_, _) => SandboxAnswer.Error(StatusCodes.Status404NotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."),
        NeedsToken: false);

    internal static readonly JsonSerializerOptions ForHumans = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>
    /// Maps DingTalk's OpenAPI under <paramref name="prefix"/> (<c>""</c> for a fake at the root, <c>"/sandbox"</c>
    /// inside the gateway), plus, for humans, the card page at <c>GET {prefix}/</c>, <c>GET {prefix}/cards</c>
    /// (<c>{cards, robotCards, callbacks}</c>), <c>GET {prefix}/requests</c> and <c>POST {prefix}/clicks</c> (a click
    /// delivered as DingTalk delivers it, see <see cref="SandboxClick"/>); and Stream mode: <c>{prefix}/v1.0/gateway/connections/open</c> and the
    /// WebSocket at <c>{prefix}/connect</c> (see <see cref="SandboxState.Stream"/>).
    /// Needs <see cref="SandboxServiceCollectionExtensions.AddDingTalkSandbox"/>.
    /// </summary>
    public static RouteGroupBuilder MapDingTalkSandbox(this IEndpointRouteBuilder app, string prefix = "")
    {
        prefix = prefix.TrimEnd('/');
        var group = app.MapGroup(prefix);

        group.MapGet("/cards", (SandboxState state) => Results.Json(
            new { cards = state.Cards, robotCards = state.RobotCards, callbacks = state.Callbacks.Values },
            ForHumans));
        group.MapGet("/requests", (SandboxState state) => Results.Json(state.Requests, ForHumans));
        group.MapGet("/", (HttpContext context) => SandboxPage.Serve(context, prefix));
        group.MapPost("/clicks", (SandboxClick click, SandboxClicker clicker, CancellationToken cancellationToken) => clicker.ClickAsync(click, cancellationToken));
        group.MapPost("/stream/clicks", ClickOverStreamAsync);

        foreach (var route in Routes)
        {
            group.MapMethods(route.Path, [route.Method], context => ServeAsync(context, prefix, route));
        }

        group.MapStreamSocket();
        group.Map(UnknownApi.Path, context => IsClickNotSentAsJson(context, prefix) ? ClickNotJsonAsync(context) : ServeAsync(context, prefix, UnknownApi));
        return group;
    }

    /// <summary>
    /// A POST to <c>/clicks</c> or <c>/stream/clicks</c> reaches the catch-all only when its Content-Type is not JSON
    /// (minimal APIs match a JSON body's endpoint on it), e.g. <c>curl -d</c> without <c>-H</c>: it is a click sent
    /// the wrong way, not an API DingTalk lacks.
    /// </summary>
    private static bool IsClickNotSentAsJson(HttpContext context, string prefix) =>
        HttpMethods.IsPost(context.Request.Method)
        && context.Request.Path.Value is { } path
        && (path.Equals(prefix + "/clicks", StringComparison.OrdinalIgnoreCase) || path.Equals(prefix + "/stream/clicks", StringComparison.OrdinalIgnoreCase));

    private static Task ClickNotJsonAsync(HttpContext context) => Results.Problem(
        statusCode: StatusCodes.Status415UnsupportedMediaType,
        title: "Unsupported Media Type",
        detail: "Send the click as JSON, with Content-Type: application/json.").ExecuteAsync(context);

    /// <summary>
    /// <c>POST {prefix}/stream/clicks</c> <c>{outTrackId, userId, params}</c>: a user's click on a Stream card, pushed to
    /// the connected client as DingTalk pushes it; answers with the client's answer (the clicker's update; its data as
    /// text when it is not JSON, as a client's refusal may be), so a person trying Stream mode can click without DingTalk.
    /// 404 for a card the sandbox does not have, 409 for one that does not call back over Stream.
    /// </summary>
    private static async Task<IResult> ClickOverStreamAsync(SandboxStreamClick click, SandboxClicker clicker)
    {
        if (string.IsNullOrEmpty(click.OutTrackId) || string.IsNullOrEmpty(click.UserId))
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Not a click", detail: "outTrackId and userId are required.");
        }

        var (message, answer, problem) = await clicker.ClickOverStreamAsync(click.OutTrackId, click.UserId, click.Params);
        return problem ?? Results.Json(new { messageId = message!.MessageId, code = answer!.Code, data = SandboxClicker.ParseOrText(answer.Data) }, ForHumans);
    }

    private static async Task ServeAsync(HttpContext context, string prefix, SandboxRoute route)
    {
        var state = context.RequestServices.GetRequiredService<SandboxState>();
        var call = await SandboxCall.ReadAsync(context, prefix);
        var answer = state.Handle(call, route);
        await answer.WriteAsync(context.Response);
    }
}
