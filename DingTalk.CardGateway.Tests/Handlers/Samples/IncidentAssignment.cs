namespace DingTalk.CardGateway.Tests.Handlers.Samples;

/// <summary>
/// The incident card's assign form, as <see cref="IncidentHandler"/> binds it (<c>context.ParamsAs&lt;IncidentAssignment&gt;()</c>):
/// a user picker (one id or a list of them), a "page them" checkbox (true unless unticked), an optional note.
/// </summary>
public sealed record IncidentAssignment(IReadOnlyList<string> Assignee, bool Page = true, string? Note = null);
