using System.Text.RegularExpressions;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>The repo's README.md, read as an operator reads it: its sections, its headings' anchors and its in-page links.</summary>
public static partial class Readme
{
    public static readonly string Text = File.ReadAllText(Path.Combine(NodeScript.RepoRoot(), "README.md")).ReplaceLineEndings("\n");

    /// <summary>The text of the <c>## <paramref name="title"/></c> section, up to the next <c>## </c> heading.</summary>
    public static string Section(string title)
    {
        var start = Text.IndexOf($"\n## {title}\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"the README has no \"## {title}\" section");
        var end = Text.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return Text[start..(end < 0 ? Text.Length : end)];
    }

    /// <summary>The anchors GitHub gives the README's headings.</summary>
    public static IReadOnlySet<string> Anchors() => AnchorsOf(Text);

    /// <summary>The anchors GitHub gives a Markdown file's headings (not the <c>#</c> comments in its code blocks); a repeated one gets <c>-1</c>, <c>-2</c>, ….</summary>
    public static IReadOnlySet<string> AnchorsOf(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var anchor in Heading().Matches(CodeBlock().Replace(markdown, "")).Select(m => Anchor(m.Groups["title"].Value)))
        {
            var unique = anchor;
            for (var n = 1; !anchors.Add(unique); n++)
            {
                unique = $"{anchor}-{n}";
            }
        }

        return anchors;
    }

    /// <summary>The anchors of the in-page links (<c>[Admin API](#admin-api)</c>) in <paramref name="text"/>.</summary>
    public static IEnumerable<string> Links(string text) => Link().Matches(text).Select(m => m.Groups["anchor"].Value);

    /// <summary>The links to the repo's own files (<c>[history](bench/HISTORY.md#stall-episodes-and-what-they-were)</c>): the path, and the anchor or "".</summary>
    public static IEnumerable<(string Path, string Anchor)> FileLinks(string text) =>
        FileLink().Matches(text).Select(m => (m.Groups["path"].Value, m.Groups["anchor"].Value));

    /// <summary>GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.</summary>
    public static string Anchor(string title) =>
        Regex.Replace(title.Trim().ToLowerInvariant(), @"[^\p{L}\p{Nd} _-]", "").Replace(' ', '-');

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"^#{1,6} (?<title>.+)$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"\]\(#(?<anchor>[^)]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"\]\((?![a-z]+:|#)(?<path>[^)#\s]+)(?:#(?<anchor>[^)]+))?\)")]
    private static partial Regex FileLink();
}
