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
