using System.Data.Common;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// Why a handler's run met another click's change and cannot be kept as it ran, though running it again may succeed
/// (<see cref="CallbackHandlingOptions.ConflictRetries"/>): said in the log line of its run again.
/// </summary>
/// <param name="Reason">What happened, for the log.</param>
/// <param name="Kind">The same in a word, for the <c>cardgateway.handler.runs_again</c> metric.</param>
internal sealed record Contention(string Reason, string Kind)
{
    /// <summary>SQLite: a state the handler changed was changed by another click while it waited on something else.</summary>
    public static readonly Contention StateChanged = new("a state it changed was changed by another click while it waited", "state_changed");

    private static readonly Contention Deadlock = new("PostgreSQL found a deadlock with another click's transaction (40P01) and failed this one", "deadlock");

    private static readonly Contention Serialization = new("PostgreSQL could not serialize it with another click's transaction (40001)", "serialization");

    /// <summary>The contention <paramref name="exception"/> (or one it wraps) reports; null for any other failure.</summary>
    public static Contention? Of(Exception exception) => exception switch
    {
        DbException { SqlState: "40P01" } => Deadlock,
        DbException { SqlState: "40001" } => Serialization,
        AggregateException aggregate => aggregate.InnerExceptions.Select(Of).FirstOrDefault(c => c is not null),
        { InnerException: { } inner } => Of(inner),
        _ => null,
    };
}
