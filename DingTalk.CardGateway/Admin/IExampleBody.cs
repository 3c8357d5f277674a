namespace DingTalk.CardGateway.Admin;

/// <summary>
/// A request body with the example the OpenAPI document gives for it, which Swagger UI pre-fills: one an operator can
/// send as it is — accepted by a sandbox gateway, and harmful to no card.
/// </summary>
public interface IExampleBody<TSelf>
    where TSelf : IExampleBody<TSelf>
{
    static abstract TSelf Example { get; }
}
