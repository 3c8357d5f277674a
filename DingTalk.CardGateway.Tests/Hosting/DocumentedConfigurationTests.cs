using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.Configuration;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// .NET's configuration binding ignores a key it does not know without a word, so a misspelt key in what an operator
/// copies from is a setting silently not made; an option missing from the README's Configuration table is one nobody
/// knows to set. So: every key the README, <c>appsettings.json</c>, <c>docker/.env.example</c> and
/// <c>docker-compose.yml</c> name is one the gateway reads; every option is in the table (none is left out on purpose),
/// with the default and the range it really has, which appsettings.json sets and the README repeats; and every link of
/// the README leads to a heading or a file.
/// </summary>
public partial class DocumentedConfigurationTests
{
    /// <summary>
    /// Defaults the gateway applies outside the options class: with no connection string, SQLite's file is opened
    /// where the database is (a <c>Postgres</c> provider without one is told so at startup instead).
    /// </summary>
    private static readonly Dictionary<string, object> AppliedDefaults = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Gateway:Storage:ConnectionString"] = StorageOptions.DefaultSqlite,
    };

    private static readonly string Root = NodeScript.RepoRoot();

    [Fact]
    public void Every_key_the_readme_and_the_config_files_name_is_one_the_gateway_reads()
    {
        var named = ReadmeKeys().Concat(AppSettingsKeys()).Concat(EnvExampleKeys()).Concat(ComposeKeys()).ToList();
        Assert.True(named.Count(k => k.Source == "README.md") >= 150, $"only {named.Count(k => k.Source == "README.md")} keys found in the README: the search missed some");
        Assert.Contains(named, k => k.Source == "README.md" && k.Key == "DingTalk:Callback:ForceUpdate"); // a relative key of the table's: `…:RegisterOnStartup`, `ForceUpdate`

        var unknown = named.Where(k => !GatewaySettings.IsRead(k.Key)).Select(k => $"{k.Source}: {k.Key}").Distinct().ToList();
        Assert.True(unknown.Count == 0, $"not keys the gateway reads (it would ignore them): {string.Join("; ", unknown)}");
    }

    [Fact]
    public void Every_option_is_in_the_configuration_table()
    {
        var documented = ConfigurationTable.Rows().SelectMany(row => row.Keys).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var options = GatewaySettings.Options().Select(o => o.Key).Concat(GatewaySettings.ReadDirectly).ToList();
        Assert.True(options.Count >= 60, $"only {options.Count} options found: the reflection missed some");

        var undocumented = options.Where(key => !documented.Contains(key)).ToList();
        Assert.True(undocumented.Count == 0, $"options missing from the Configuration table: {string.Join("; ", undocumented)}");
    }

    [Fact]
    public void The_defaults_the_configuration_table_gives_are_the_gateways()
    {
        var options = GatewaySettings.Options().ToDictionary(o => o.Key, StringComparer.OrdinalIgnoreCase);
        var compared = 0;
        var wrong = new List<string>();
        foreach (var row in ConfigurationTable.Rows())
        {
            var stated = Defaults(row.Cells[2], row.Keys.Count);
            foreach (var (key, value) in row.Keys.Zip(stated))
            {
                if (value is null || !options.TryGetValue(key, out var option))
                {
                    continue;
                }

                compared++;
                var actual = AppliedDefaults.GetValueOrDefault(key) ?? option.Default;
                if (!StatedValue.Is(value, option.Property.PropertyType, actual))
                {
                    wrong.Add($"{key}: the table says {value}, the default is {StatedValue.Describe(actual)}");
                }
            }
        }

        Assert.True(compared >= 50, $"only {compared} defaults read from the table: the parsing missed some");
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }

    /// <summary>
    /// Startup refuses a value outside the range the table allows (<c>1 s – 1 h</c>): it is the option's <c>[Range]</c>, and
    /// every option with one states it. (A range a validator checks by hand, <c>Gateway:Storage:Retention</c>'s, is its tests'.)
    /// </summary>
    [Fact]
    public void The_ranges_the_configuration_table_allows_are_the_options()
    {
        var options = GatewaySettings.Options().ToDictionary(o => o.Key, StringComparer.OrdinalIgnoreCase);
        var stated = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var wrong = new List<string>();
        foreach (var row in ConfigurationTable.Rows())
        {
            foreach (var (key, part) in row.Keys.Zip(ConfigurationTable.Parts(row.Cells[3].Split(';')[0])))
            {
                var range = StatedRange().Match(part);
                if (!range.Success || !options.TryGetValue(key, out var option) || option.Property.GetCustomAttribute<RangeAttribute>() is not { } attribute)
                {
                    continue;
                }

                stated.Add(key);
                var type = option.Property.PropertyType;
                if (!StatedValue.Is(range.Groups["min"].Value, type, Bound(attribute, attribute.Minimum)) || !StatedValue.Is(range.Groups["max"].Value, type, Bound(attribute, attribute.Maximum)))
                {
                    wrong.Add($"{key}: the table allows {part}, the option {StatedValue.Describe(Bound(attribute, attribute.Minimum))} – {StatedValue.Describe(Bound(attribute, attribute.Maximum))}");
                }
            }
        }

        var unstated = options.Values.Where(o => o.Property.GetCustomAttribute<RangeAttribute>() is not null && !stated.Contains(o.Key)).Select(o => o.Key).ToList();
        Assert.True(unstated.Count == 0, $"options with a range the table does not give: {string.Join("; ", unstated)}");
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }

    /// <summary><c>dotnet run</c> and the container read <c>appsettings.json</c>: what it sets is what the table says the default is.</summary>
    [Fact]
    public void The_shipped_appsettings_json_sets_each_option_to_its_default()
    {
        var configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(Root, "appsettings.json")).Build();
        var shipped = GatewaySettings.Sections
            .SelectMany(s => GatewaySettings.Values(s.Key, configuration.GetSection(s.Key).Get(s.Value) ?? Activator.CreateInstance(s.Value)!))
            .ToDictionary(o => o.Key, o => o.Value, StringComparer.OrdinalIgnoreCase);

        var differing = GatewaySettings.Options()
            .Where(o => !Same(shipped[o.Key], AppliedDefaults.GetValueOrDefault(o.Key) ?? o.Default))
            .Select(o => $"{o.Key}: appsettings.json sets {StatedValue.Describe(shipped[o.Key])}, the default is {StatedValue.Describe(AppliedDefaults.GetValueOrDefault(o.Key) ?? o.Default)}")
            .ToList();
        Assert.True(differing.Count == 0, string.Join("; ", differing));
    }

    /// <summary>Elsewhere the README, and the compose file's comments, repeat a default beside its key: <c>`Gateway:Callbacks:LateAnswer` (2 s)</c>.</summary>
    [Fact]
    public void The_defaults_repeated_beside_their_keys_are_the_gateways()
    {
        var options = GatewaySettings.Options().ToDictionary(o => o.Key, StringComparer.OrdinalIgnoreCase);
        var text = string.Join('\n', ConfigurationTable.ReadmeOutsideIt(), File.ReadAllText(Path.Combine(Root, "docker-compose.yml")), File.ReadAllText(Path.Combine(Root, "docker", ".env.example")));
        var repeated = RepeatedDefault().Matches(text).Select(m => (Key: m.Groups["key"].Value.Replace("__", ":", StringComparison.Ordinal), Value: m.Groups["value"].Value)).ToList();
        Assert.True(repeated.Count >= 15, $"only {repeated.Count} defaults found beside their keys: the search missed some");

        var wrong = repeated
            .Where(r => !options.TryGetValue(r.Key, out var option) || !StatedValue.Is(r.Value, option.Property.PropertyType, AppliedDefaults.GetValueOrDefault(r.Key) ?? option.Default))
            .Select(r => $"{r.Key} ({r.Value}): the default is {(options.TryGetValue(r.Key, out var option) ? StatedValue.Describe(option.Default) : "not an option's")}")
            .Distinct()
            .ToList();
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }

    [Fact]
    public void Every_in_page_link_leads_to_a_heading()
    {
        var anchors = Readme.Anchors();
        var links = Readme.Links(Readme.Text).Distinct().ToList();
        Assert.True(links.Count >= 15, $"only {links.Count} in-page links found: the search missed some");

        var broken = links.Where(link => !anchors.Contains(link)).ToList();
        Assert.True(broken.Count == 0, $"links to no heading: {string.Join("; ", broken.Select(link => $"#{link}"))}");
    }

    /// <summary><c>[bench/HISTORY.md](bench/HISTORY.md#stall-episodes-and-what-they-were)</c>: the file is there, and so is the heading.</summary>
    [Fact]
    public void Every_link_to_a_file_of_the_repo_leads_to_it_and_its_heading()
    {
        var links = Readme.FileLinks(Readme.Text).Distinct().ToList();
        Assert.NotEmpty(links);

        var broken = links.Where(link => !File.Exists(Path.Combine(Root, link.Path)) && !Directory.Exists(Path.Combine(Root, link.Path))
                || (link.Anchor.Length > 0 && !Readme.AnchorsOf(File.ReadAllText(Path.Combine(Root, link.Path))).Contains(link.Anchor)))
            .Select(link => $"{link.Path}#{link.Anchor}")
            .ToList();
        Assert.True(broken.Count == 0, $"links to no file or heading: {string.Join("; ", broken)}");
    }

    private static IEnumerable<(string Source, string Key)> ReadmeKeys()
    {
        var table = ConfigurationTable.Rows().ToList();
        var outsideTable = ConfigurationTable.ReadmeOutsideIt();
        var keys = Mentions(outsideTable)
            .Concat(table.SelectMany(row => row.Keys.Concat(row.Cells.Skip(1).SelectMany(cell => Mentions(cell).Select(key => ConfigurationTable.Absolute(key, row.Keys[0]))))))
            .Concat(JsonFragment().Matches(outsideTable).SelectMany(m => JsonKeys("{" + m.Groups["body"].Value + "}")));
        return keys.Select(key => ("README.md", key));
    }

    private static IEnumerable<(string Source, string Key)> AppSettingsKeys() =>
        JsonKeys(File.ReadAllText(Path.Combine(Root, "appsettings.json"))).Select(key => ("appsettings.json", key));

    /// <summary>Its settings, those commented out included, and the keys its comments name.</summary>
    private static IEnumerable<(string Source, string Key)> EnvExampleKeys()
    {
        var text = File.ReadAllText(Path.Combine(Root, "docker", ".env.example"));
        return EnvAssignment().Matches(text).Select(m => m.Groups["key"].Value).Concat(Mentions(text)).Select(key => ("docker/.env.example", key));
    }

    private static IEnumerable<(string Source, string Key)> ComposeKeys() =>
        Mentions(File.ReadAllText(Path.Combine(Root, "docker-compose.yml"))).Select(key => ("docker-compose.yml", key));

    private static IEnumerable<string> Mentions(string text) =>
        ColonKey().Matches(text).Concat(EnvironmentKey().Matches(text)).Select(m => m.Groups["key"].Value);

    /// <summary>Every key a JSON configuration sets, as <c>A:B:C</c>: a list's entries by index, an empty list by its own key.</summary>
    private static IEnumerable<string> JsonKeys(string json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return Walk(document.RootElement, "").ToList();

        static IEnumerable<string> Walk(JsonElement element, string key) => element.ValueKind switch
        {
            JsonValueKind.Object => element.EnumerateObject().SelectMany(p => Walk(p.Value, key.Length == 0 ? p.Name : $"{key}:{p.Name}")),
            JsonValueKind.Array when element.GetArrayLength() > 0 => element.EnumerateArray().SelectMany((e, i) => Walk(e, $"{key}:{i}")),
            _ => [key],
        };
    }

    /// <summary>
    /// The defaults a cell states, one per key (<c>`1.5 s`, 1 MB</c>; a single <c>none</c> for all of them), or null for one
    /// in prose (<c>AppKey</c>, <c>both empty → Sandbox</c>): a value is written in code, or is a size.
    /// </summary>
    private static string?[] Defaults(string cell, int keys)
    {
        var parts = ConfigurationTable.Parts(cell);
        if (parts.Count != keys)
        {
            return [.. Enumerable.Repeat(parts.Count == 1 && parts[0].StartsWith("none", StringComparison.Ordinal) ? "none" : null, keys)];
        }

        return [.. parts.Select(part =>
            part.StartsWith("none", StringComparison.Ordinal) ? "none"
            : CodeDefault().Match(part) is { Success: true } code ? code.Groups["value"].Value
            : StatedValue.IsSize(part) ? part
            : null)];
    }

    /// <summary>A <c>[Range]</c>'s bound as a value of its option's kind: a duration's is written <c>00:00:01</c>.</summary>
    private static object Bound(RangeAttribute range, object bound) =>
        range.OperandType == typeof(TimeSpan) ? TimeSpan.Parse((string)bound, CultureInfo.InvariantCulture) : bound;

    /// <summary>Equal, a list by its entries; an empty string is no value (appsettings.json's <c>""</c> for a secret to fill in).</summary>
    private static bool Same(object? a, object? b) =>
        (a is "" ? null : a, b is "" ? null : b) switch
        {
            (IEnumerable x and not string, IEnumerable y and not string) => x.Cast<object>().SequenceEqual(y.Cast<object>()),
            var (x, y) => Equals(x, y),
        };

    /// <summary>
    /// <c>Gateway:Storage:Provider</c>, <c>Serilog:MinimumLevel:Override:&lt;category&gt;</c>, <c>Gateway:Outbox:*</c>: PascalCase
    /// segments (a category's dots allowed), a list's index, a placeholder or a wildcard; not a URL, a time or <c>**Bold:**</c>.
    /// </summary>
    [GeneratedRegex(@"(?<![\w/.:-])(?<key>[A-Z][A-Za-z0-9]*(?::(?:[A-Z][\w.]*[A-Za-z0-9]|[A-Z]|<[a-z]+>|\*(?![*\w])|\d+))+)")]
    private static partial Regex ColonKey();

    /// <summary><c>DingTalk__Callback__PreviousApiSecrets__0</c>: an environment variable's name.</summary>
    [GeneratedRegex(@"(?<![\w/.-])(?<key>[A-Za-z][A-Za-z0-9]*(?:__[A-Za-z0-9<>*]+)+)")]
    private static partial Regex EnvironmentKey();

    /// <summary><c>KEY=value</c>, or <c># KEY=value</c> for one left for the operator to turn on.</summary>
    [GeneratedRegex(@"^(?:#\s*)?(?<key>[A-Za-z][A-Za-z0-9_]*)=", RegexOptions.Multiline)]
    private static partial Regex EnvAssignment();

    /// <summary>A piece of appsettings.json (<c>"Gateway": { … }</c>), not a request body, which starts with <c>{</c>.</summary>
    [GeneratedRegex(@"^```json\n(?<body>"".*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex JsonFragment();

    /// <summary>A default in code, then nothing or a remark: <c>`2 s` (DingTalk's limit)</c>.</summary>
    [GeneratedRegex(@"^`(?<value>[^`]+)`(?:$| \(| →)")]
    private static partial Regex CodeDefault();

    /// <summary><c>1 s – 1 h</c>, <c>1 – 1,000,000</c>, <c>1 KB – 16 MB</c>.</summary>
    [GeneratedRegex(@"^(?<min>[\d.,]+(?: [A-Za-z]+)?) – (?<max>[\d.,]+(?: [A-Za-z]+)?)$")]
    private static partial Regex StatedRange();

    /// <summary><c>`Gateway:Callbacks:LateAnswer` (2 s)</c>, <c>(… `HandlerBudget`, 1.5 s)</c>, <c>(10 s; …</c>: a value alone, not <c>2.5 s by default</c>, which may be derived.</summary>
    [GeneratedRegex(@"(?<key>(?:DingTalk|Gateway)(?:(?::|__)[A-Za-z]+)+)`?(?: \((?<value>\d+(?:\.\d+)?(?: (?:ms|s|min|h|days?))?)[);]|, (?<value>\d+(?:\.\d+)?(?: (?:ms|s|min|h|days?))?)\))")]
    private static partial Regex RepeatedDefault();
}
