using System.Text;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// An exception as the text log writes it (<c>{Exception}</c> is its <see cref="ToString"/>): laid out as .NET lays it out
/// — type, message, inner exceptions, stack trace — but with every control character in a message escaped as
/// <see cref="ControlCharacterEscapingSink"/> escapes a property. A message can quote what came from outside (DingTalk's
/// error message, a handler's <c>int.Parse</c> of a click's params); the stack trace comes from the code, and keeps one
/// frame a line. What an exception's own <c>ToString</c> adds to that layout (a <see cref="FileNotFoundException"/>'s file
/// name) is left out, only when a message needed escaping.
/// </summary>
internal sealed class EscapedException : Exception
{
    private readonly string _text;

    private EscapedException(Exception original)
        : base(ControlCharacterEscapingSink.Escape(original.Message))
    {
        var text = new StringBuilder();
        Render(original, text);
        _text = text.ToString();
    }

    /// <summary>The exception to write: <paramref name="exception"/> itself when no message in it needs escaping (almost always).</summary>
    public static Exception For(Exception exception) => NeedsEscaping(exception) ? new EscapedException(exception) : exception;

    public override string ToString() => _text;

    private static bool NeedsEscaping(Exception exception) =>
        ControlCharacterEscapingSink.NeedsEscaping(exception.Message)
        || (exception is AggregateException aggregate
            ? aggregate.InnerExceptions.Any(NeedsEscaping)
            : exception.InnerException is { } inner && NeedsEscaping(inner));

    /// <summary>As <see cref="Exception.ToString"/> and <see cref="AggregateException.ToString"/> write it, messages escaped.</summary>
    private static void Render(Exception exception, StringBuilder text)
    {
        text.Append(exception.GetType());
        if (exception.Message is { Length: > 0 } message)
        {
            text.Append(": ").Append(ControlCharacterEscapingSink.Escape(message));
        }

        if (exception.InnerException is { } inner)
        {
            text.Append(Environment.NewLine).Append(" ---> ");
            Render(inner, text);
            text.Append(Environment.NewLine).Append("   --- End of inner exception stack trace ---");
        }

        if (exception.StackTrace is { } stack)
        {
            // Its line breaks are the frames'; anything else in a line (a frame naming a dynamic method, say) is escaped.
            foreach (var frame in stack.Split(Environment.NewLine))
            {
                text.Append(Environment.NewLine).Append(ControlCharacterEscapingSink.Escape(frame));
            }
        }

        if (exception is AggregateException aggregate)
        {
            for (var i = 0; i < aggregate.InnerExceptions.Count; i++)
            {
                if (aggregate.InnerExceptions[i] == aggregate.InnerException)
                {
                    continue; // written above
                }

                text.Append(Environment.NewLine).Append(" ---> (Inner Exception #").Append(i).Append(") ");
                Render(aggregate.InnerExceptions[i], text);
                text.Append("<---").Append(Environment.NewLine);
            }
        }
    }
}
