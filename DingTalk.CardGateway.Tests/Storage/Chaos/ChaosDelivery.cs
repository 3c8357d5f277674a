using System.Globalization;
using System.Text;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>
/// One click as DingTalk delivers it: the same body and signature timestamp every time it is sent, so every send after the
/// first is a redelivery the gateway must recognise. The timestamp is taken when it is first sent, one millisecond apart
/// from any other click's, so two clicks are never one delivery by accident.
/// </summary>
internal sealed class ChaosDelivery(string card, string user, string action, string? option)
{
    private static long s_lastMillis;
    private long _signedAt;

    public string Card { get; } = card;

    public string User { get; } = user;

    public string Action { get; } = action;

    /// <summary>The poll option voted for; null for an approval click.</summary>
    public string? Option { get; } = option;

    public HttpRequestMessage Request()
    {
        Interlocked.CompareExchange(ref _signedAt, NextMillis(), 0);
        return DingTalkCallback.Signed(Body(), GatewayFactory.ApiSecret, DateTimeOffset.FromUnixTimeMilliseconds(Interlocked.Read(ref _signedAt)));
    }

    /// <summary>The id the gateway records this click under (its dedupe key), once it has been sent.</summary>
    public string CallbackId()
    {
        var signedAt = Interlocked.Read(ref _signedAt);
        Assert.NotEqual(0, signedAt);
        Assert.True(CardActionParser.TryParse(Encoding.UTF8.GetBytes(Body()), CallbackTransport.Http, signedAt.ToString(CultureInfo.InvariantCulture), out var click, out var problem), problem);
        return click.CallbackId;
    }

    private string Body()
    {
        object parameters = Option is null ? new { action = Action } : new { action = Action, option = Option };
        return DingTalkCallback.Body(Card, User, parameters);
    }

    public override string ToString() => $"{User} {Action} {Option} on {Card} @{Interlocked.Read(ref _signedAt)}";

    private static long NextMillis()
    {
        while (true)
        {
            var last = Interlocked.Read(ref s_lastMillis);
            var next = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), last + 1);
            if (Interlocked.CompareExchange(ref s_lastMillis, next, last) == last)
            {
                return next;
            }
        }
    }
}
