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
    /// <summary>Every options class bound from the configuration, and its section.</summary>
    private static readonly (Type Options, string Section)[] Bound =
    [
        (typeof(DingTalkOptions), DingTalkOptions.Section),
        (typeof(GatewayOptions), GatewayOptions.Section),
        (typeof(CallbackHandlingOptions), CallbackHandlingOptions.Section),
        (typeof(HandlerOptions), HandlerOptions.Section),
        (typeof(Handlers.Typewriter.LlmOptions), Handlers.Typewriter.LlmOptions.Section),
        (typeof(OutboxOptions), OutboxOptions.Section),
    ];

    /// <summary>The configuration section of each options class, by name: generated range checks name the class, not the key.</summary>
    private static readonly Dictionary<string, string> Sections = Bound.ToDictionary(b => b.Options.Name, b => b.Section, StringComparer.Ordinal);

    /// <summary>Every option validated at startup, in every section; each problem once.</summary>
    public static IReadOnlyList<string> Find(IServiceProvider services)
    {
        var configuration = services.GetService<IConfiguration>();
        var lists = configuration is null ? [] : Bound.SelectMany(b => ListsGivenOneValue(configuration, b.Section, b.Options)).ToList();
        return [.. lists, .. Validated(services)];
    }

    private static List<string> Validated(IServiceProvider services)
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

    /// <summary>
    /// A list option given one value (<c>Gateway__AdminApiKeys=key</c> where <c>Gateway__AdminApiKeys__0=key</c> was meant):
    /// the binder ignores it without a word, so the gateway would run without the keys or secrets it was given. Said by
    /// key, never by value: these lists hold secrets. A blank value (appsettings.json's <c>[]</c>) is no value.
    /// </summary>
    private static IEnumerable<string> ListsGivenOneValue(IConfiguration configuration, string section, Type options)
    {
        foreach (var property in options.GetProperties().Where(p => p.CanWrite))
        {
            var key = $"{section}:{property.Name}";
            var type = property.PropertyType;
            if (type != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(type))
            {
                if (!string.IsNullOrWhiteSpace(configuration[key]))
                {
                    var variable = EnvironmentName(key);
                    yield return $"{key} ({variable}) is a list, and one value for all of it is ignored: give each entry a key of its own, "
                        + $"{key}:0 ({variable}__0), {key}:1 ({variable}__1), ….";
                }
            }
            else if (type.IsClass && type.Assembly == options.Assembly)
            {
                foreach (var problem in ListsGivenOneValue(configuration, key, type))
                {
                    yield return problem;
                }
            }
        }
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
