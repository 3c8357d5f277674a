namespace DingTalk.CardGateway.Handlers;

/// <summary>The criteria a <see cref="CardActionMatch"/> may name, as what a callback misses (<see cref="CardActionMatch.Misses"/>).</summary>
[Flags]
public enum CardActionCriteria
{
    None = 0,
    Template = 1,
    ActionId = 2,
    ParamsAction = 4,
}
