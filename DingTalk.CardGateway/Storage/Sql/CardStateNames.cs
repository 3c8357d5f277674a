namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The handler-state names seen read for a callback's own card (a poll's tally; not a per-user state such as a ballot,
/// whose key is not the card's id): on PostgreSQL a callback's claim reads those states of its card in the same round
/// trip, so the handler's first read of them costs none (<see cref="StorageSession.WithNextClaim"/>). Learned as
/// handlers read them, up to <see cref="Most"/> names for the process.
/// </summary>
public sealed class CardStateNames
{
    /// <summary>How many names are kept: each is one more index look-up in every claim.</summary>
    public const int Most = 16;

    private readonly Lock _gate = new();
    private volatile string[] _names = [];

    /// <summary>The names learned so far (never changed once handed out: a new name makes a new array).</summary>
    public string[] Names => _names;

    /// <summary>Handler state <paramref name="handler"/> was read for a callback's own card.</summary>
    public void Seen(string handler)
    {
        var names = _names;
        if (names.Length >= Most || Array.IndexOf(names, handler) >= 0)
        {
            return;
        }

        lock (_gate)
        {
            if (_names.Length < Most && Array.IndexOf(_names, handler) < 0)
            {
                _names = [.. _names, handler];
            }
        }
    }
}
