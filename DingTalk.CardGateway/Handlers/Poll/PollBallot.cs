namespace DingTalk.CardGateway.Handlers.Poll;

/// <summary>One voter's current choice on one poll.</summary>
public sealed record PollBallot(string Option);
