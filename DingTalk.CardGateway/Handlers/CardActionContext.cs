using System.Text.Json;
using System.Diagnostics.CodeAnalysis;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers.ParamsBinding;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers;

/// <summary>What a handler learns about a click: the callback (who, where, which action with which params) and the card as stored.</summary>
public sealed record CardActionContext : CardAction
{
    [SetsRequiredMembers]
    private CardActionContext(CardAction action, CardRecord? card)
        : base(action)
    {
        Card = card;
    }

    /// <summary>The card as the gateway created and last updated it; null for a card the gateway did not send.</summary>
    public CardRecord? Card { get; init; }

    /// <summary>
    /// 1 the first time the handler runs for this click; 2 and on when it runs again because its click met another
    /// click's change (<c>Gateway:Callbacks:ConflictRetries</c>): what it wrote to the gateway's store was undone, and
    /// <see cref="Card"/> is read again. Anything it did outside the store (an HTTP call, a mail) was not undone: a handler
    /// with such effects can use this to do them once.
    /// </summary>
    public int Run { get; init; } = 1;

    /// <summary>Advanced (outTrackId, <c>/v1.0/card/instances</c>) or normal robot card (cardBizId).</summary>
    public CardKind CardKind => Transport == CallbackTransport.RobotHttp ? CardKind.Robot : Card?.Kind ?? CardKind.Advanced;

    /// <summary>A parameter as text: strings as they are, other kinds as their JSON; null when absent or null.</summary>
    /// <remarks>An array reads as its JSON (<c>["u3","u4"]</c>): read one that may be a list with <see cref="ParamValues"/>.</remarks>
    public string? Param(string name) =>
        Params.ValueKind == JsonValueKind.Object && Params.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? Text(value)
            : null;

    /// <summary>
    /// A parameter that may hold one value or several, as a form's multi-select or user picker sends it: a list of each
    /// as text (as <see cref="Param"/> reads one), a single value as a list of one; nulls left out; empty when absent.
    /// </summary>
    public IReadOnlyList<string> ParamValues(string name)
    {
        if (Params.ValueKind != JsonValueKind.Object || !Params.TryGetProperty(name, out var value))
        {
            return [];
        }

        return value.ValueKind switch
        {
            JsonValueKind.Array => [.. value.EnumerateArray().Where(v => v.ValueKind != JsonValueKind.Null).Select(Text)],
            JsonValueKind.Null => [],
            _ => [Text(value)],
        };
    }

    /// <summary>
    /// The click's <c>params</c> bound to <typeparamref name="T"/>, as ASP.NET Core binds a request body: camelCase names,
    /// any case; tolerant as DingTalk's forms send values — a number or boolean as a string (<c>"3"</c>, <c>"true"</c>), one
    /// value for a list member (as <see cref="ParamValues"/> reads it), an empty string for a nullable member (null);
    /// unknown fields (<c>action</c> among them) ignored. Strict where C# is: a <c>required</c> member, or a record's
    /// parameter with no default value, must be there, and a member not declared nullable takes no null.
    /// </summary>
    /// <exception cref="CardParamsException">
    /// The params do not bind: a required member missing, or a value of a kind its member cannot take. The message names
    /// the path and the expected type (<c>$.assignee must be a list of strings, not an object</c>), never the value. Left
    /// uncaught, the click is answered <c>{}</c> and recorded <c>HandlerFailed</c>, with one warning (3123); catch it to
    /// answer the clicker yourself.
    /// </exception>
    /// <remarks>Bound on each call, from the params as they came; nothing is bound unless asked for.</remarks>
    public T ParamsAs<T>() => CardParams.Bind<T>(Params);

    public static CardActionContext From(CardAction action, CardRecord? card, int run = 1) => new(action, card) { Run = run };

    private static string Text(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
}
