using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>A value as the README writes it for an operator (<c>1.5 s</c>, <c>00:01:00</c>, <c>1 MB</c>, <c>1,000</c>, <c>none</c>), read as an option's.</summary>
public static partial class StatedValue
{
    /// <summary>Whether <paramref name="stated"/> is <paramref name="actual"/>, read as a value of <paramref name="type"/>.</summary>
    public static bool Is(string stated, Type type, object? actual)
    {
        if (stated == "none")
        {
            return actual is null || (actual is IEnumerable list and not string && !list.Cast<object>().Any());
        }

        var kind = Nullable.GetUnderlyingType(type) ?? type;
        return kind switch
        {
            _ when kind == typeof(TimeSpan) => Duration(stated) is { } duration && duration.Equals(actual),
            _ when kind == typeof(int) => Integer(stated).Equals(actual),
            _ when kind == typeof(float) || kind == typeof(double) =>
                double.TryParse(stated, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && actual is not null && x == Convert.ToDouble(actual, CultureInfo.InvariantCulture),
            _ when kind == typeof(bool) => bool.TryParse(stated, out var b) && b.Equals(actual),
            _ when kind == typeof(Uri) => Uri.TryCreate(stated, UriKind.Absolute, out var uri) && uri.Equals(actual),
            _ => string.Equals(stated, actual?.ToString(), StringComparison.Ordinal),
        };
    }

    /// <summary>Whether <paramref name="text"/> is a size (<c>1 MB</c>), which the README writes without code.</summary>
    public static bool IsSize(string text) => Size().IsMatch(text);

    /// <summary>A value as a failure says it: <c>none</c>, a list's entries, or the value itself.</summary>
    public static string Describe(object? value) => value switch
    {
        null => "none",
        IEnumerable list and not string => $"[{string.Join(", ", list.Cast<object>())}]",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
    };

    /// <summary><c>1000</c>, <c>100,000</c>, or a size in bytes: <c>1 KB</c> is 1024, <c>1 MB</c> 1024 × 1024.</summary>
    private static int? Integer(string text) =>
        Size().Match(text) is { Success: true } size
            ? int.Parse(size.Groups["n"].Value, CultureInfo.InvariantCulture) * (size.Groups["unit"].Value == "MB" ? 1024 * 1024 : 1024)
            : int.TryParse(text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary><c>0</c>, <c>1.5 s</c>, <c>80 ms</c>, <c>2 min</c>, <c>24 h</c>, <c>7 days</c>, or <c>[d.]hh:mm:ss</c> as appsettings.json writes it.</summary>
    private static TimeSpan? Duration(string text)
    {
        if (text == "0")
        {
            return TimeSpan.Zero;
        }

        var match = DurationInUnits().Match(text);
        if (match.Success)
        {
            var n = double.Parse(match.Groups["n"].Value, CultureInfo.InvariantCulture);
            return match.Groups["unit"].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "min" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                _ => TimeSpan.FromDays(n),
            };
        }

        return text.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) ? span : null;
    }

    [GeneratedRegex(@"^(?<n>\d+) (?<unit>KB|MB)$")]
    private static partial Regex Size();

    [GeneratedRegex(@"^(?<n>\d+(?:\.\d+)?) ?(?<unit>ms|s|min|h|days?)$")]
    private static partial Regex DurationInUnits();
}
