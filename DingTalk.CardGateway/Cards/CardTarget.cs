namespace DingTalk.CardGateway.Cards;

/// <summary>Where a card goes: a group chat, or 1:1 chats between the robot and each user.</summary>
public sealed record CardTarget(string? OpenConversationId, IReadOnlyList<string>? UserIds)
{
    public bool IsGroup => !string.IsNullOrWhiteSpace(OpenConversationId);
}
