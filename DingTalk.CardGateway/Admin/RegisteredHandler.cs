namespace DingTalk.CardGateway.Admin;

/// <summary>
/// One <c>AddCardActionHandler</c> registration: the handler type's name, its match as written
/// (<c>on.Template("tpl").Action("vote")</c>), and each criterion it names (null: any).
/// </summary>
public sealed record RegisteredHandler(
    string Handler, string Match, string? TemplateId, string? ActionId, IReadOnlyList<string>? Actions, string Type);
