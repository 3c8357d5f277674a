using System.Text.RegularExpressions;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// What is wrong with the configuration, found before the host starts, each problem one sentence naming its key as
/// an operator writes it (<c>DingTalk:Callback:SignatureWindow</c>, or <c>DingTalk__Callback__SignatureWindow</c>
/// in the environment), never a stack trace.
/// </summary>
public static partial class ConfigurationProblems
{
    /// <summary>The configuration section of each options class whose range checks are generated (they name the class, not the key).</summary>
    private static readonly Dictionary<string, string> Sections = new(StringComparer.Ordinal)
    {
        [nameof(DingTalkOptions)] = DingTalkOptions.Section,
        [nameof(CallbackHandlingOptions)] = CallbackHandlingOptions.Section,
        [nameof(HandlerOptions)] = HandlerOptions.Section,
        [nameof(Handlers.Typewriter.LlmOptions)] = Handlers.Typewriter.LlmOptions.Section,
        [nameof(OutboxOptions)] = OutboxOptions.Section,
    };

    /// <summary>Every option validated at startup, in every section; each problem once.</summary>
    public static IReadOnlyList<string> Find(IServiceProvider services)
    {
        try
        {
            services.GetService<IStartupValidator>()?.Validate();
            return [];
        }
        catch (OptionsValidationException ex)
        {
            return Sentences(ex.Failures);
        }
        catch (AggregateException ex) when (ex.InnerExceptions.All(e => e is OptionsValidationException))
        {
            // Every DingTalk client's resilience settings read the DingTalk section too: one wrong value fails them all alike.
            return Sentences(ex.InnerExceptions.SelectMany(e => ((OptionsValidationException)e).Failures));
        }
        catch (InvalidOperationException ex) when (Unreadable(ex) is { } sentence)
        {
            return [sentence];
        }
    }

    /// <summary>
    /// A value the configuration binder could not convert to its option's type (a duration written <c>7d</c>, a number
    /// <c>1MB</c>): the binder says which key and value; this says it as the other problems are said. Null for any
    /// other failure, which keeps its stack trace.
    /// </summary>
    private static string? Unreadable(Exception exception)
    {
        if (exception is not InvalidOperationException || FailedConversion().Match(exception.Message) is not { Success: true } match)
        {
            return null;
        }

        var key = match.Groups["key"].Value;
        var expected = match.Groups["type"].Value switch
        {
            "System.TimeSpan" => "a duration written [d.]hh:mm:ss (00:00:30 is 30 seconds, 7.00:00:00 is 7 days)",
            "System.Int32" or "System.Int64" => "a whole number",
            "System.Boolean" => "true or false",
            "System.Uri" => "a URL",
            var type when type == typeof(GatewayMode).FullName => string.Join(" or ", Enum.GetNames<GatewayMode>()),
            var type => $"a {type[(type.LastIndexOf('.') + 1)..]}",
        };
        return $"{key} ({EnvironmentName(key)}) cannot be '{match.Groups["value"].Value}': it must be {expected}.";
    }

    private static List<string> Sentences(IEnumerable<string> failures) => failures.Select(KeyNamed).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>"SignatureWindow: The field DingTalkOptions.Callback.SignatureWindow must be …" said by its key.</summary>
    private static string KeyNamed(string failure)
    {
        if (RangeFailure().Match(failure) is not { Success: true } match
            || !Sections.TryGetValue(match.Groups["type"].Value, out var section))
        {
            return failure;
        }

        var key = section + match.Groups["path"].Value.Replace('.', ':');
        return $"{key} ({EnvironmentName(key)}) {match.Groups["rest"].Value}";
    }

    private static string EnvironmentName(string key) => key.Replace(":", "__", StringComparison.Ordinal);

    [GeneratedRegex(@"^Failed to convert configuration value '(?<value>.*)' at '(?<key>[^']+)' to type '(?<type>[^']+)'\.", RegexOptions.Singleline)]
    private static partial Regex FailedConversion();

    [GeneratedRegex(@"^\w+: The field (?<type>\w+)(?<path>(?:\.\w+)+) (?<rest>.+)$", RegexOptions.Singleline)]
    private static partial Regex RangeFailure();
}
