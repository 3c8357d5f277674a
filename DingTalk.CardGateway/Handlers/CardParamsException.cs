namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// A click's <c>params</c> do not bind to the type a handler asked for (<see cref="CardActionContext.ParamsAs{T}"/>): a
/// required member is missing, or a value is of a kind the member cannot take. The message names the JSON path and what
/// was expected, never the value (params may carry personal data, and this message is logged).
/// </summary>
/// <remarks>
/// Left uncaught, the gateway answers the click <c>{}</c>, records it <c>HandlerFailed</c> and logs one warning (3123)
/// without a stack trace; caught, the handler answers as it likes (an error shown to the clicker, say).
/// </remarks>
public sealed class CardParamsException : Exception
{
    public CardParamsException(Type target, string path, string expected, string problem)
        : base($"{path} {problem}")
    {
        Target = target;
        Path = path;
        Expected = expected;
    }

    /// <summary>The type the params were bound to.</summary>
    public Type Target { get; }

    /// <summary>Where in <c>params</c>, as a JSON path: <c>$.assignee</c>, <c>$.items[1].quantity</c>.</summary>
    public string Path { get; }

    /// <summary>What the member takes, in words: <c>a whole number</c>, <c>a list of strings</c>.</summary>
    public string Expected { get; }
}
