namespace DingTalk.CardGateway.Callbacks;

/// <summary>Where a callback answered early (<see cref="AnswerTimeline.TryAnswerEarly"/>) was when its budget ran out.</summary>
public enum AnswerStage
{
    /// <summary>Waiting on storage for its claim or its card: its handler had not started.</summary>
    Storage,

    /// <summary>In its handler.</summary>
    Handler,

    /// <summary>Its handler done in time, waiting on storage to commit its outcome.</summary>
    Commit,

    /// <summary>
    /// A redelivery, still looking for the first delivery's record or trying the claim again (for the writer, a pool's
    /// connection): the click stays with the first delivery, unless that one ends without a record.
    /// </summary>
    Redelivery,
}
