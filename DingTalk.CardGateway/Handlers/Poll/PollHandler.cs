using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers.Poll;

/// <summary>
/// A poll: <c>params.action = "vote"</c> with <c>params.option</c>. One vote per user, a later vote replaces the
/// earlier one. The clicker sees <c>myVote</c>; everyone sees <c>total</c> and <c>votes_&lt;option&gt;</c>.
/// </summary>
public sealed partial class PollHandler(IHandlerStateStore states, ILogger<PollHandler> logger) : ICardActionHandler
{
    public const string VoteAction = "vote";
    public const int MaxOptions = 50;
    public const int MaxOptionLength = 64;
    private const string StateName = "poll";

    public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var option = context.Param("option");
        if (string.IsNullOrWhiteSpace(option) || option.Length > MaxOptionLength)
        {
            Log.NoOption(logger, context.CallbackId, context.CardId, MaxOptionLength);
            return CardActionResult.None;
        }

        var poll = await states.UpdateAsync<PollState>(
            StateName, context.CardId, current => (current ?? PollState.Empty).Vote(context.UserId, option, MaxOptions), cancellationToken);
        if (poll.Votes.GetValueOrDefault(context.UserId) != option)
        {
            Log.TooManyOptions(logger, context.CallbackId, context.CardId, MaxOptions);
            return CardActionResult.None;
        }

        return CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("myVote", option)))
            .AndForEveryone(EveryoneUpdate.Public(poll.Tallies()));
    }

    private static partial class Log
    {
        [LoggerMessage(4201, LogLevel.Warning, "Vote {CallbackId} on card {CardId} names no params.option (or one longer than {MaxLength} characters); ignored")]
        public static partial void NoOption(ILogger logger, string callbackId, string cardId, int maxLength);

        [LoggerMessage(4202, LogLevel.Warning, "Vote {CallbackId} on card {CardId} names a new option beyond the {MaxOptions} a poll may have; ignored")]
        public static partial void TooManyOptions(ILogger logger, string callbackId, string cardId, int maxOptions);
    }
}
