using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.Sandbox.Stream;
using DingTalk.Sandbox.Wire;
using Microsoft.AspNetCore.Http;

namespace DingTalk.Sandbox;

/// <summary>
/// Clicks a card the way DingTalk delivers a click: an HTTP card's callback posted, signed, to the URL registered for
/// its <c>callbackRouteKey</c>; a Stream card's pushed over the Stream connection; a robot card's posted to the
/// <c>callbackUrl</c> it was sent with. Answers with what the receiver answered (the clicker's update), or a problem
/// saying why DingTalk could not deliver the click.
/// </summary>
internal sealed class SandboxClicker(SandboxState state) : IDisposable
{
    /// <summary>DingTalk gives up after 2 s; a person trying a slow handler is shown its answer anyway, up to this.</summary>
    public static readonly TimeSpan AnswerWait = TimeSpan.FromSeconds(10);

    private const string TimestampHeader = "x-ddpaas-signature-timestamp";
    private const string SignatureHeader = "x-ddpaas-signature";

    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false })
    {
        Timeout = AnswerWait,
        MaxResponseContentBufferSize = 1024 * 1024,
    };

    public async Task<IResult> ClickAsync(SandboxClick click, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(click.UserId) || string.IsNullOrEmpty(click.OutTrackId) == string.IsNullOrEmpty(click.CardBizId))
        {
            return Problem(
                StatusCodes.Status400BadRequest,
                "Not a click",
                "Give userId and one of outTrackId (an advanced card) or cardBizId (a robot card).");
        }

        return string.IsNullOrEmpty(click.CardBizId)
            ? await ClickAdvancedCardAsync(click.OutTrackId!, click.UserId, click.Params, cancellationToken)
            : await ClickRobotCardAsync(click.CardBizId, click.UserId, click.Params, cancellationToken);
    }

    /// <summary>
    /// The most a click pushed over Stream may carry in its <c>userId</c> and <c>params</c>. A person's click is a few ids
    /// and a card's params; a larger one made a frame past what a Stream client takes (the gateway's
    /// <c>DingTalk:Stream:MaxFrameBytes</c>), dropped unanswered, and the click hung for 10 s to a 504.
    /// </summary>
    public const int MaxStreamClickBytes = 64 * 1024;

    /// <summary>
    /// Pushes a click on a Stream card and waits for the client's answer: the answer, or the problem when the card is
    /// unknown (404), not a Stream card (409), the click too large to be one (413), or nobody answered (504).
    /// </summary>
    public async Task<(SandboxStreamMessage? Message, SandboxStreamAnswer? Answer, IResult? Problem)> ClickOverStreamAsync(
        string outTrackId, string userId, JsonObject? parameters)
    {
        if (state.FindCard(outTrackId) is null)
        {
            return (null, null, NoSuchCard("card", outTrackId));
        }

        if (Encoding.UTF8.GetByteCount(userId) + Encoding.UTF8.GetByteCount(parameters?.ToJsonString() ?? "") > MaxStreamClickBytes)
        {
            return (null, null, Problem(
                StatusCodes.Status413PayloadTooLarge,
                "Click too large",
                $"A click's userId and params hold at most {MaxStreamClickBytes / 1024} KB here: a larger one is no click a person makes, and a Stream client drops a frame that large unanswered."));
        }

        SandboxStreamMessage message;
        try
        {
            message = await state.Stream.PushCardCallbackAsync(outTrackId, userId, parameters ?? new JsonObject());
        }
        catch (InvalidOperationException refused)
        {
            return (null, null, Problem(StatusCodes.Status409Conflict, "Not a Stream card", refused.Message));
        }

        try
        {
            return (message, await message.Answered.WaitAsync(AnswerWait), null);
        }
        catch (TimeoutException)
        {
            return (message, null, Problem(
                StatusCodes.Status504GatewayTimeout,
                "No answer",
                $"No Stream client answered message {message.MessageId} within {AnswerWait.TotalSeconds:0} s (is one connected? DingTalk:Stream:Enabled); it is redelivered until one does."));
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<IResult> ClickAdvancedCardAsync(string outTrackId, string userId, JsonObject? parameters, CancellationToken cancellationToken)
    {
        var card = state.FindCard(outTrackId);
        if (card is null)
        {
            return NoSuchCard("card", outTrackId);
        }

        if (card.CallbackType == "STREAM")
        {
            var (_, answer, problem) = await ClickOverStreamAsync(outTrackId, userId, parameters);
            if (problem is not null)
            {
                return problem;
            }

            var update = StreamResponse(answer!.Data);
            if (answer.Code == StatusCodes.Status200OK)
            {
                state.ApplyClickerAnswer(outTrackId, userId, update);
            }

            return Answered("STREAM", answer.Code, update);
        }

        if (string.IsNullOrEmpty(card.CallbackRouteKey))
        {
            return Problem(
                StatusCodes.Status409Conflict,
                "Nowhere to call back",
                $"Card {outTrackId} was created without a callbackRouteKey, so DingTalk does not know where to send its clicks.");
        }

        if (!state.Callbacks.TryGetValue(card.CallbackRouteKey, out var callback))
        {
            return Problem(
                StatusCodes.Status409Conflict,
                "No callback URL registered",
                $"No callback URL is registered for route key '{card.CallbackRouteKey}', so DingTalk has nowhere to send the clicks of card {outTrackId}. "
                + "The gateway registers one at startup when DingTalk:Callback:RegisterOnStartup is true and DingTalk:Callback:ApiSecret is set (Sandbox mode's defaults), "
                + "but not with DingTalk:Stream:Enabled=true: then send cards with callbackType STREAM.");
        }

        var body = CardCallbackBody.Advanced(card, userId, parameters);
        return await PostAsync("HTTP", callback.CallbackUrl, body, callback.ApiSecret, answer => state.ApplyClickerAnswer(outTrackId, userId, answer), cancellationToken);
    }

    private async Task<IResult> ClickRobotCardAsync(string cardBizId, string userId, JsonObject? parameters, CancellationToken cancellationToken)
    {
        var card = state.FindRobotCard(cardBizId);
        if (card is null)
        {
            return NoSuchCard("robot card", cardBizId);
        }

        if (string.IsNullOrEmpty(card.CallbackUrl))
        {
            return Problem(
                StatusCodes.Status409Conflict,
                "Nowhere to call back",
                $"Robot card {cardBizId} was sent without a callbackUrl, so DingTalk has nowhere to send its clicks; the gateway's POST /api/robot-cards mints one.");
        }

        // DingTalk documents no signature for a robot card's callback: the token in the URL is the card's proof.
        return await PostAsync("robot", card.CallbackUrl, CardCallbackBody.Robot(cardBizId, userId, parameters), apiSecret: null, answered: null, cancellationToken);
    }

    /// <param name="answered">Given the receiver's 200 answer, as DingTalk applies it (null: nothing is applied).</param>
    private async Task<IResult> PostAsync(string via, string url, JsonObject body, string? apiSecret, Action<JsonNode?>? answered, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var target) || (target.Scheme != Uri.UriSchemeHttp && target.Scheme != Uri.UriSchemeHttps))
        {
            return Unreachable("The callback URL is not an absolute http(s) URL.");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, target)
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        if (apiSecret is not null)
        {
            var timestamp = state.Time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
            request.Headers.Add(TimestampHeader, timestamp);
            request.Headers.Add(SignatureHeader, Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(apiSecret), Encoding.UTF8.GetBytes(timestamp))));
        }

        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            var answer = ParseOrText(text);
            if (response.StatusCode == System.Net.HttpStatusCode.OK)
            {
                answered?.Invoke(answer);
            }

            return Answered(via, (int)response.StatusCode, answer);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Problem(
                StatusCodes.Status504GatewayTimeout,
                "No answer",
                $"The callback URL {target.GetLeftPart(UriPartial.Authority)} did not answer within {AnswerWait.TotalSeconds:0} s (DingTalk gives up after 2 s).");
        }
        catch (HttpRequestException unreachable)
        {
            return Unreachable($"DingTalk could not reach {target.GetLeftPart(UriPartial.Authority)}: {unreachable.Message} Is the gateway running at the URL it registered?");
        }
    }

    private static IResult Answered(string via, int status, JsonNode? answer) =>
        Results.Json(new { via, status, answer }, SandboxEndpoints.ForHumans);

    /// <summary>A Stream answer's <c>data</c> is <c>{"response": update}</c>: the update, as an HTTP callback would answer it.</summary>
    private static JsonNode? StreamResponse(string data) =>
        ParseOrText(data) is JsonObject wrapped && wrapped["response"] is { } response ? response.DeepClone() : ParseOrText(data);

    /// <summary>A receiver's answer as JSON, or as the text it is when it is not JSON (a client's refusal may carry none).</summary>
    internal static JsonNode? ParseOrText(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return JsonValue.Create(text);
        }
    }

    /// <summary>
    /// A mistyped id (or the README's <c>&lt;outTrackId&gt;</c> left in) is the usual cause; a restart is one only where
    /// the gateway keeps no emulator file (Hosting/SandboxPersistence.cs: beside a SQLite file, not in memory or on PostgreSQL).
    /// </summary>
    private static IResult NoSuchCard(string kind, string id) => Problem(
        StatusCodes.Status404NotFound,
        "No such card",
        $"DingTalk has no {kind} {id}: check the id against GET /sandbox/cards. The emulator keeps its cards across restarts only beside a SQLite database file; a card it does not have must be sent again.");

    private static IResult Unreachable(string detail) => Problem(StatusCodes.Status502BadGateway, "Callback not delivered", detail);

    private static IResult Problem(int status, string title, string detail) => Results.Problem(statusCode: status, title: title, detail: detail);
}
