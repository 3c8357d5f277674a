using System.Collections.Concurrent;

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

    private readonly ConcurrentDictionary<string, byte> _names = new(StringComparer.Ordinal);
    private volatile string[] _snapshot = [];

    /// <summary>The names learned so far.</summary>
    public string[] Names => _snapshot;

    /// <summary>Handler state <paramref name="handler"/> was read for a callback's own card.</summary>
    public void Seen(string handler)
    {
        if (_snapshot.Length >= Most || _names.ContainsKey(handler) || !_names.TryAdd(handler, 0))
        {
            return;
        }

        _snapshot = [.. _names.Keys.Take(Most)];
    }
}
