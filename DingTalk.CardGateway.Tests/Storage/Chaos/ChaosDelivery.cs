using System.Globalization;
using System.Text;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox.Stream;

namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>
/// One click as DingTalk delivers it: over HTTP, the same body and signature timestamp every time it is sent, so every send
/// after the first is a redelivery the gateway must recognise (the timestamp is taken when it is first sent, one millisecond
/// apart from any other click's, so two clicks are never one delivery by accident); over Stream, one frame whose every push
/// carries the same <c>messageId</c>.
/// </summary>
internal sealed class ChaosDelivery(string card, string user, string action, string? option)
{
    private static long s_lastMillis;
    private readonly Lock _gate = new();
    private long _signedAt;
    private Task<SandboxStreamMessage>? _firstPush;
    private SandboxStreamMessage? _frame;

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

    /// <summary>
    /// Pushes the click over Stream: the first time as a new frame (to one open connection at random, and again until it is
    /// answered), every later time the same frame again, answered or not — DingTalk's duplicates.
    /// </summary>
    public async Task<SandboxStreamMessage> PushAsync(SandboxStream stream)
    {
        Task<SandboxStreamMessage> first;
        bool again;
        lock (_gate)
        {
            again = _firstPush is not null;
            _firstPush ??= stream.PushCardCallbackAsync(Card, User, Parameters());
            first = _firstPush;
        }

        var frame = await first;
        Volatile.Write(ref _frame, frame);
        if (again)
        {
            await stream.RedeliverAsync(frame.MessageId);
        }

        return frame;
    }

    /// <summary>The id the gateway records this click under (its dedupe key), once it has been sent.</summary>
    public string CallbackId()
    {
        if (Frame() is { } frame)
        {
            Assert.True(CardActionParser.TryParse(Encoding.UTF8.GetBytes(frame.Data), CallbackTransport.Stream, frame.MessageId, out var pushed, out var unread), unread);
            return pushed.CallbackId;
        }

        var signedAt = Interlocked.Read(ref _signedAt);
        Assert.NotEqual(0, signedAt);
        Assert.True(CardActionParser.TryParse(Encoding.UTF8.GetBytes(Body()), CallbackTransport.Http, signedAt.ToString(CultureInfo.InvariantCulture), out var click, out var problem), problem);
        return click.CallbackId;
    }

    /// <summary>The frame the click was pushed as over Stream; null for a click sent over HTTP (or not pushed yet).</summary>
    public SandboxStreamMessage? Frame() => Volatile.Read(ref _frame);

    private string Body() => DingTalkCallback.Body(Card, User, Parameters());

    private object Parameters() => Option is null ? new { action = Action } : new { action = Action, option = Option };

    public override string ToString() => $"{User} {Action} {Option} on {Card} @{Frame()?.MessageId ?? Interlocked.Read(ref _signedAt).ToString(CultureInfo.InvariantCulture)}";

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
