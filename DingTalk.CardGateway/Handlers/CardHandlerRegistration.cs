namespace DingTalk.CardGateway.Handlers;

/// <summary>One <c>AddCardActionHandler</c> call: a handler type and what it answers.</summary>
public sealed record CardHandlerRegistration(Type HandlerType, CardActionMatch Match);
