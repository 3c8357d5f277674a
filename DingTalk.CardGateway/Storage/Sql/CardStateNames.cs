namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The handler-state names seen read for a callback's own card (a poll's tally; not a per-user state such as a ballot,
/// whose key is not the card's id): on PostgreSQL a callback's claim reads those states of its card in the same round
/// trip, so the handler's first read of them costs none (<see cref="StorageSession.WithNextClaim"/>). Learned as
/// handlers read them, up to <see cref="Most"/> names for the process; a name no handler read in the last
/// <see cref="ForgetAfter"/> claims is forgotten (learned again at its next read).
/// </summary>
/// <param name="forgetAfter">Claims without a read of a name after which it is forgotten (<see cref="ForgetAfter"/>).</param>
public sealed class CardStateNames(int forgetAfter = CardStateNames.ForgetAfter)
{
    /// <summary>How many names are kept: each is one more index look-up in every claim.</summary>
    public const int Most = 16;

    /// <summary>
    /// A name no handler read in this many claims is forgotten: it cost an index look-up in each of them, more than the
    /// round trip of its own its next read pays (and a handler gone, or a card type no longer sent, would keep it and
    /// take one of the <see cref="Most"/> places for good). A name read at least this often stays.
    /// </summary>
    public const int ForgetAfter = 1000;

    private readonly Lock _gate = new();
    private volatile Learned[] _learned = [];
    private volatile string[] _names = [];
    private long _claims;

    /// <summary>The names learned so far (never changed once handed out: a new name makes a new array).</summary>
    public string[] Names => _names;

    /// <summary>A claim is about to be sent: the names it reads along, after forgetting those read in none of the last claims.</summary>
    public string[] ForClaim()
    {
        var claim = Interlocked.Increment(ref _claims);
        foreach (var learned in _learned)
        {
            if (claim - Volatile.Read(ref learned.LastRead) > forgetAfter)
            {
                Forget(claim);
                break;
            }
        }

        return _names;
    }

    /// <summary>Handler state <paramref name="handler"/> was read for a callback's own card, whether with its claim or not.</summary>
    public void Seen(string handler)
    {
        var claim = Volatile.Read(ref _claims);
        var learned = _learned;
        foreach (var name in learned)
        {
            if (string.Equals(name.Name, handler, StringComparison.Ordinal))
            {
                Volatile.Write(ref name.LastRead, claim);
                return;
            }
        }

        if (learned.Length >= Most)
        {
            return;
        }

        lock (_gate)
        {
            if (_learned.Length < Most && !_learned.Any(l => string.Equals(l.Name, handler, StringComparison.Ordinal)))
            {
                Set([.. _learned, new Learned(handler) { LastRead = claim }]);
            }
        }
    }

    private void Forget(long claim)
    {
        lock (_gate)
        {
            Set([.. _learned.Where(l => claim - Volatile.Read(ref l.LastRead) <= forgetAfter)]);
        }
    }

    private void Set(Learned[] learned)
    {
        _learned = learned;
        _names = [.. learned.Select(l => l.Name)];
    }

    /// <summary>A name, and the claim count when a handler last read it.</summary>
    private sealed class Learned(string name)
    {
        public string Name { get; } = name;

        public long LastRead;
    }
}
