using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers.Poll;

/// <summary>
/// A poll: <c>params.action = "vote"</c> with <c>params.option</c>. One vote per user, a later vote replaces the
/// earlier one. The clicker sees <c>myVote</c>; everyone sees <c>total</c> and <c>votes_&lt;option&gt;</c> — and, on a
/// normal robot card, the counts in its markdown block <see cref="BlockId"/>.
/// </summary>
/// <remarks>
/// Each voter's ballot is its own small state and the card keeps only counts, so a vote costs the same with ten
/// voters or a hundred thousand (one state holding every vote would be rewritten whole on each click).
/// </remarks>
public sealed partial class PollHandler(IHandlerStateStore states, ILogger<PollHandler> logger) : ICardActionHandler
{
    public const string VoteAction = "vote";
    public const int MaxOptions = 50;
    public const int MaxOptionLength = 64;

    /// <summary>On a normal robot card, the id of the markdown block in <c>contents</c> that shows the counts.</summary>
    public const string BlockId = "poll";
    private const string TallyState = "poll";
    private const string BallotState = "poll.ballot";

    public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var option = context.Param("option");
        if (string.IsNullOrWhiteSpace(option) || option.Length > MaxOptionLength)
        {
            Log.NoOption(logger, context.CallbackId, context.CardId, MaxOptionLength);
            return CardActionResult.None;
        }

        var tally = await states.GetAsync<PollTally>(TallyState, context.CardId, cancellationToken) ?? PollTally.Empty;
        if (!tally.Counts.ContainsKey(option) && tally.Counts.Count >= MaxOptions)
        {
            Log.TooManyOptions(logger, context.CallbackId, context.CardId, MaxOptions);
            return CardActionResult.None;
        }

        string? previous = null;
        await states.UpdateAsync<PollBallot>(
            BallotState,
            BallotKey(context.CardId, context.UserId),
            current =>
            {
                previous = current?.Option; // the last run of change is the one that counted
                return new PollBallot(option);
            },
            cancellationToken);

        var mine = CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("myVote", option)));
        if (previous == option)
        {
            return mine; // the same vote again: nothing changes for everyone
        }

        tally = await states.UpdateAsync<PollTally>(TallyState, context.CardId, current => (current ?? PollTally.Empty).Move(previous, option), cancellationToken);
        return mine.AndForEveryone(EveryoneUpdate.Public(tally.Tallies()).WithBlockOnRobotCard(context, BlockId, tally, static t => t.Summary()));
    }

    /// <summary>Length-prefixed, so no card id and user id pair can spell another's key.</summary>
    private static string BallotKey(string cardId, string userId) => $"{cardId.Length}:{cardId}/{userId}";

    private static partial class Log
    {
        [LoggerMessage(6001, LogLevel.Warning, "Vote {CallbackId} on card {CardId} names no params.option (or one longer than {MaxLength} characters); ignored")]
        public static partial void NoOption(ILogger logger, string callbackId, string cardId, int maxLength);

        [LoggerMessage(6002, LogLevel.Warning, "Vote {CallbackId} on card {CardId} names a new option beyond the {MaxOptions} a poll may have; ignored")]
        public static partial void TooManyOptions(ILogger logger, string callbackId, string cardId, int maxOptions);
    }
}
