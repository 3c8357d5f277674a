namespace DingTalk.CardGateway.Storage;

/// <summary>What became of an effect after a commit.</summary>
public enum EffectStatus
{
    /// <summary>Not run yet, being run, or waiting for its retry.</summary>
    Pending,

    /// <summary>Ran to the end.</summary>
    Done,

    /// <summary>Given up: it signalled a permanent failure, or kept failing past <c>Gateway:Outbox:GiveUpAfter</c>.</summary>
    Dead,

    /// <summary>Dead, then let go by an operator (<c>DELETE /api/effects/{id}</c>): no longer counted as dead, purged by retention.</summary>
    Dismissed,
}
