namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// What every viewer's card shows: issued after the answer through DingTalk's card update API (advanced cards)
/// or the robot-card update (normal cards), merged by key, in order per card.
/// </summary>
/// <param name="CardData">Values for everyone, merged by key.</param>
/// <param name="PrivateData">Values per user, merged by key into each user's.</param>
/// <param name="RobotBlocks">
/// On a normal robot card, markdown blocks of its <c>contents</c> to show (block id → text): a StandardCard shows no
/// variables, so this is how people see a change there (<see cref="WithBlockOnRobotCard{TState}"/>).
/// </param>
public sealed record EveryoneUpdate(
    CardValues? CardData = null,
    IReadOnlyDictionary<string, CardValues>? PrivateData = null,
    IReadOnlyDictionary<string, string>? RobotBlocks = null)
{
    public static EveryoneUpdate Public(CardValues values) => new(CardData: values);

    /// <summary>
    /// Values only <paramref name="userId"/> sees, merged by key into theirs, e.g. a notice to a user who did not click
    /// (for the clicker, <see cref="ClickerUpdate.Private"/> answers at once).
    /// </summary>
    public static EveryoneUpdate Private(string userId, CardValues values) => new EveryoneUpdate().WithPrivate(userId, values);

    /// <summary>A copy that also shows <paramref name="values"/> to <paramref name="userId"/> alone, merged with what it already has for them.</summary>
    public EveryoneUpdate WithPrivate(string userId, CardValues values) => this with
    {
        PrivateData = new Dictionary<string, CardValues>(PrivateData ?? new Dictionary<string, CardValues>(), StringComparer.Ordinal)
        {
            [userId] = PrivateData?.GetValueOrDefault(userId) is { } earlier ? CardValues.From(earlier.Concat(values)) : values,
        },
    };

    public bool IsEmpty => CardData is not { Count: > 0 } && PrivateData is not { Count: > 0 } && RobotBlocks is not { Count: > 0 };

    /// <summary>
    /// On a normal robot card, also show <paramref name="markdown"/> of <paramref name="state"/> in the markdown block
    /// <paramref name="blockId"/> of its <c>contents</c>; on an advanced card this update as it is (and
    /// <paramref name="markdown"/> is not called). The block is written into the card as the gateway stores it, under
    /// the card's lock, as the update is queued (<see cref="Storage.CardUpdates"/>): a card that places a block with that
    /// id decides where it shows, one without gets it appended, and the rest of its blocks stay as they are.
    /// </summary>
    public EveryoneUpdate WithBlockOnRobotCard<TState>(CardActionContext context, string blockId, TState state, Func<TState, string> markdown) =>
        context.CardKind != Storage.CardKind.Robot
            ? this
            : this with
            {
                RobotBlocks = new Dictionary<string, string>(RobotBlocks ?? new Dictionary<string, string>(), StringComparer.Ordinal)
                {
                    [blockId] = markdown(state),
                },
            };
}
