using System.Reflection;
using DingTalk.CardGateway.Callbacks;
using DingTalk.Sandbox;
using Microsoft.Extensions.Logging;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>Dashboards and alerts select log events by id, so an id must name one event only.</summary>
public class LogEventIdTests
{
    [Fact]
    public void Every_log_event_of_the_gateway_and_the_sandbox_has_an_id_of_its_own()
    {
        var events = new[] { typeof(CallbackPipeline).Assembly, typeof(SandboxState).Assembly }
            .SelectMany(assembly => assembly.GetTypes())
            .SelectMany(type => type.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(method => (Method: method, Attribute: method.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(e => e.Attribute is not null)
            .Select(e => (e.Attribute!.EventId, Name: $"{e.Method.DeclaringType!.FullName}.{e.Method.Name}"))
            .ToList();

        Assert.True(events.Count > 40, $"only {events.Count} log events found: the search missed some");
        Assert.All(events, e => Assert.True(e.EventId > 0, $"{e.Name} has no event id"));
        var shared = events.GroupBy(e => e.EventId).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Name))}");
        Assert.Empty(shared);
    }
}
