namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>What DingTalk does with the socket of a gateway whose process stands still (and so answers nothing).</summary>
public enum WhileFrozen
{
    /// <summary>Nothing: it goes on pinging and pushing into the socket, and the frozen process's kernel buffers it all.</summary>
    KeepsPushing,

    /// <summary>It gives the socket up without a word: no more pings or frames on it, the socket left up.</summary>
    AbandonsTheSocket,

    /// <summary>It drops the socket, as a server whose pings went unanswered does.</summary>
    DropsTheSocket,
}
