namespace DingTalk.CardGateway.Storage;

/// <summary>What became of a card callback.</summary>
public enum CallbackOutcome
{
    /// <summary>Received; its handler has not answered yet.</summary>
    Pending,

    /// <summary>A handler answered within the budget.</summary>
    Handled,

    /// <summary>No handler claims the action: acknowledged with <c>{}</c>.</summary>
    Unhandled,

    /// <summary>The handler threw: acknowledged with <c>{}</c>.</summary>
    HandlerFailed,

    /// <summary>The handler ran past the budget: answered without its clicker update.</summary>
    Overran,
}
