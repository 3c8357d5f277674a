using System.Reflection;
using System.Text.RegularExpressions;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox;
using Microsoft.Extensions.Logging;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>Dashboards and alerts select log events by id, so an id must name one event only, as the README lists it.</summary>
public partial class LogEventIdTests
{
    [Fact]
    public void Every_log_event_of_the_gateway_and_the_sandbox_has_an_id_of_its_own()
    {
        var events = Events();

        Assert.True(events.Count > 40, $"only {events.Count} log events found: the search missed some");
        Assert.All(events, e => Assert.True(e.EventId > 0, $"{e.Name} has no event id"));
        var shared = events.GroupBy(e => e.EventId).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Name))}");
        Assert.Empty(shared);
    }

    /// <summary>The README's table is what an operator writes alerts from: every id, at its level, and no id that is gone.</summary>
    [Fact]
    public void The_README_lists_every_log_event_with_its_level_and_no_other()
    {
        var readme = File.ReadAllText(Path.Combine(NodeScript.RepoRoot(), "README.md"));
        var documented = DocumentedEvent().Matches(readme).Select(m => $"{m.Groups["id"].Value} {m.Groups["level"].Value}").ToList();

        var logged = Events().Select(e => $"{e.EventId} {e.Level}").ToList();

        Assert.Empty(logged.Except(documented)); // logged, but missing from the README (or listed at another level)
        Assert.Empty(documented.Except(logged)); // in the README, but no such event (or not at that level)
        Assert.Equal(documented.Count, documented.Distinct().Count());
    }

    internal static List<(int EventId, LogLevel Level, string Name)> Events() =>
        new[] { typeof(CallbackPipeline).Assembly, typeof(SandboxState).Assembly }
            .SelectMany(assembly => assembly.GetTypes())
            .SelectMany(type => type.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(method => (Method: method, Attribute: method.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(e => e.Attribute is not null)
            .Select(e => (e.Attribute!.EventId, e.Attribute.Level, Name: $"{e.Method.DeclaringType!.FullName}.{e.Method.Name}"))
            .ToList();

    /// <summary>A row of the README's event table: <c>| 3101 | Warning | …</c>.</summary>
    [GeneratedRegex(@"^\| (?<id>\d{4}) \| (?<level>Trace|Debug|Information|Warning|Error|Critical) \|", RegexOptions.Multiline)]
    private static partial Regex DocumentedEvent();
}
