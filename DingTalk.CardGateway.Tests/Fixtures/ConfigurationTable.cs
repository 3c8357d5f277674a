using System.Text.RegularExpressions;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>The README's Configuration table: a row per line, each with its keys and its four cells (key, meaning, default, allowed).</summary>
public static partial class ConfigurationTable
{
    /// <summary>A row: its keys in full (the first cell's first key, the others relative to its section) and its cells.</summary>
    public sealed record Row(string Line, IReadOnlyList<string> Keys, string[] Cells);

    /// <summary><c>`DingTalk:Callback:RegisterOnStartup`, `ForceUpdate`</c> names <c>DingTalk:Callback:RegisterOnStartup</c> and <c>DingTalk:Callback:ForceUpdate</c>.</summary>
    public static IEnumerable<Row> Rows()
    {
        var rows = Readme.Section("Configuration").Split('\n').Where(line => line.StartsWith("| `", StringComparison.Ordinal)).ToList();
        Assert.True(rows.Count >= 40, $"only {rows.Count} rows found in the Configuration table");
        foreach (var line in rows)
        {
            var cells = line.Trim('|').Split(" | ").Select(cell => cell.Trim()).ToArray();
            Assert.True(cells.Length == 4, $"a Configuration row without its four cells: {line}");
            var written = Code().Matches(cells[0]).Select(m => m.Groups["code"].Value).ToList();
            yield return new Row(line, [written[0], .. written.Skip(1).Select(key => Absolute(key, written[0]))], cells);
        }
    }

    /// <summary>The README without the table's rows, whose keys may be relative to the row's first.</summary>
    public static string ReadmeOutsideIt() => Rows().Aggregate(Readme.Text, (text, row) => text.Replace(row.Line, "", StringComparison.Ordinal));

    /// <summary>
    /// A key in a row as the row means it: <c>ForceUpdate</c> (or <c>Callback:ApiSecret</c>) beside <c>DingTalk:Callback:RegisterOnStartup</c>
    /// is under <c>DingTalk:Callback</c>; a key from a root of the configuration (<c>Gateway:…</c>, <c>Serilog:…</c>) is itself.
    /// </summary>
    public static string Absolute(string key, string first)
    {
        var root = key.Split(["__", ":"], StringSplitOptions.None)[0];
        return GatewaySettings.Sections.Keys.Any(section => section.Split(':')[0].Equals(root, StringComparison.OrdinalIgnoreCase))
            || GatewaySettings.OtherComponents.Any(prefix => key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            ? key
            : $"{first[..first.LastIndexOf(':')]}:{key}";
    }

    /// <summary>A cell split at its commas, but not those inside code or parentheses, or a number's (<c>1,000,000</c>).</summary>
    public static List<string> Parts(string cell)
    {
        var parts = new List<string>();
        var (depth, inCode, start) = (0, false, 0);
        for (var i = 0; i < cell.Length; i++)
        {
            switch (cell[i])
            {
                case '`':
                    inCode = !inCode;
                    break;
                case '(' when !inCode:
                    depth++;
                    break;
                case ')' when !inCode:
                    depth--;
                    break;
                case ',' when !inCode && depth == 0 && i + 1 < cell.Length && cell[i + 1] == ' ':
                    parts.Add(cell[start..i].Trim());
                    start = i + 1;
                    break;
            }
        }

        parts.Add(cell[start..].Trim());
        return parts;
    }

    [GeneratedRegex(@"`(?<code>[^`]+)`")]
    private static partial Regex Code();
}
