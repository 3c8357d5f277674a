namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// What a stop left undone, noted where it happens (each also says so in its own line), for the one line that ends the
/// stop (event 1112): how long it took, and either "nothing left undone" or the list. An operator reading a rollout's
/// logs finds there whether the stop was clean without looking for 3107, 4121 or 6105.
/// </summary>
public sealed class StopReport
{
    private int _callbacksCancelled;
    private int _cardsCutOff;
    private int _entriesCutOff;
    private int _textsNotFinalised;
    private int _streamFramesLeft;

    /// <summary>Callbacks whose handlers were cancelled past <c>Gateway:Callbacks:StopGrace</c> (3107), each recorded as failed.</summary>
    public void CallbacksCancelled(int count) => Interlocked.Add(ref _callbacksCancelled, count);

    /// <summary>A card's update for everyone cut off mid-send (4121): its entries stay pending.</summary>
    public void SendCutOff(int entries)
    {
        Interlocked.Increment(ref _cardsCutOff);
        Interlocked.Add(ref _entriesCutOff, entries);
    }

    /// <summary>Texts whose last frame could not be sent (6105) or that were still typing when the wait ended (6106).</summary>
    public void TextsNotFinalised(int count) => Interlocked.Add(ref _textsNotFinalised, count);

    /// <summary>Stream frames that came as their connection closed, left unanswered for DingTalk to push again (5015).</summary>
    public void StreamFramesLeft(int count) => Interlocked.Add(ref _streamFramesLeft, count);

    /// <summary>The list, in words: empty when nothing was left undone.</summary>
    public IReadOnlyList<string> LeftUndone()
    {
        var left = new List<string>();
        if (Volatile.Read(ref _callbacksCancelled) is var cancelled and > 0)
        {
            left.Add($"{cancelled} callback(s) cancelled past Gateway:Callbacks:StopGrace, recorded as failed (3107)");
        }

        if (Volatile.Read(ref _cardsCutOff) is var cards and > 0)
        {
            left.Add($"the update for everyone of {cards} card(s) cut off mid-send, its {Volatile.Read(ref _entriesCutOff)} entries pending for the next start or another replica (4121)");
        }

        if (Volatile.Read(ref _textsNotFinalised) is var texts and > 0)
        {
            left.Add($"{texts} text(s) whose cards may show them typing (6105, 6106)");
        }

        if (Volatile.Read(ref _streamFramesLeft) is var frames and > 0)
        {
            left.Add($"{frames} Stream frame(s) that came as the connection closed, not taken up, for DingTalk to push again (5015)");
        }

        return left;
    }
}
