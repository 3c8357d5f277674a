namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>How a click reaches the gateway — HTTP requests to a replica, or Stream frames DingTalk pushes — and what it was answered.</summary>
internal interface IChaosWire
{
    /// <summary>Every answer the gateway gave, so far.</summary>
    IReadOnlyCollection<ChaosAnswer> Answers { get; }

    /// <summary>Sendings that got no answer and were sent again.</summary>
    int Unanswered { get; }

    /// <summary>
    /// Sends <paramref name="click"/> once more, meant for <paramref name="replica"/> (where the wire can choose), and returns
    /// once it is answered: sent again, as DingTalk does, for as long as it gets no answer.
    /// </summary>
    Task SendAsync(ChaosDelivery click, int replica, ChaosSend send);
}
