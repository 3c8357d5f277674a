using System.Text.RegularExpressions;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// The README's "Going live" is what an operator copies from: the settings it names bind to real options (a misspelt
/// one would be ignored by the gateway), its example starts a Live gateway, and the events and sections it points to exist.
/// </summary>
public partial class GoingLiveChecklistTests
{
    [Fact]
    public void The_example_configuration_binds_to_real_options_and_validates_as_a_live_deployment()
    {
        var example = CodeBlock().Match(Section());
        Assert.True(example.Success, "Going live has no ```env block");
        using var services = EnvironmentSettings.Bind(example.Groups["body"].Value.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .Select(p => KeyValuePair.Create(p[0], Placeholder().Replace(p[1], EnvironmentSettings.FilledIn(p[0])))));
        var dingTalk = services.GetRequiredService<IOptions<DingTalkOptions>>().Value;
        var gateway = services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        Assert.Equal(GatewayMode.Live, dingTalk.EffectiveMode);
        Assert.False(dingTalk.Stream.Enabled); // HTTP callbacks: validated with their URL and secret
        Assert.Equal(Uri.UriSchemeHttps, dingTalk.Callback.PublicBaseUrl!.Scheme);
        Assert.Equal(StorageOptions.Postgres, gateway.Storage.Provider);
        Assert.NotEmpty(gateway.AdminApiKeys);
    }

    [Fact]
    public void Every_environment_variable_it_names_is_a_real_option()
    {
        var named = EnvironmentVariable().Matches(Section()).Select(m => m.Value).Distinct().ToList();
        Assert.True(named.Count >= 12, $"only {named.Count} settings found in Going live: the search missed some");

        var unknown = named.Where(name => !GatewaySettings.IsOption(name.Split("__"))).ToList();
        Assert.Empty(unknown);
    }

    [Fact]
    public void Every_event_it_names_is_logged_at_the_level_it_gives()
    {
        var named = NamedEvent().Matches(Section()).Select(m => $"{m.Groups["id"].Value} {m.Groups["level"].Value}").Distinct().ToList();
        Assert.True(named.Count >= 10, $"only {named.Count} events found in Going live: the search missed some");

        var logged = LogEventIdTests.Events().Select(e => $"{e.EventId} {e.Level}".ToLowerInvariant()).ToHashSet();
        var notLogged = named.Where(e => !logged.Contains(e.ToLowerInvariant())).ToList();
        Assert.Empty(notLogged);
    }

    [Fact]
    public void Every_section_it_links_to_exists()
    {
        var anchors = Readme.Anchors();
        var links = Readme.Links(Section()).Distinct().ToList();
        Assert.NotEmpty(links);

        var broken = links.Where(link => !anchors.Contains(link)).ToList();
        Assert.Empty(broken);
        Assert.Contains("(#going-live)", Readme.Text, StringComparison.Ordinal); // the top of the README points here
    }

    private static string Section() => Readme.Section("Going live");

    [GeneratedRegex(@"```env\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"<[^>]*>")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"\b(?:DingTalk|Gateway)__[A-Za-z0-9_]+\b")]
    private static partial Regex EnvironmentVariable();

    /// <summary><c>warning 3203</c>, <c>error 4103 then 4107</c>: the level, then one or more ids.</summary>
    [GeneratedRegex(@"\b(?<level>[Ww]arning|[Ee]rror|[Ii]nformation) (?<id>\d{4})\b")]
    private static partial Regex NamedEvent();
}
