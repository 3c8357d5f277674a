using System.Collections;
using System.Reflection;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// The configuration keys the gateway reads, found by reflection over its options classes (each binds the section its
/// <c>Section</c> constant names), so a key the README or a config file names can be told from one the gateway ignores.
/// </summary>
public static class GatewaySettings
{
    /// <summary>The options classes, by the section each binds (<c>Gateway:Callbacks</c>: <see cref="CallbackHandlingOptions"/>).</summary>
    public static readonly IReadOnlyDictionary<string, Type> Sections = typeof(CallbackPipeline).Assembly.GetTypes()
        .Select(t => (Type: t, Section: t.GetField("Section", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() as string))
        .Where(s => s.Section is not null)
        .ToDictionary(s => s.Section!, s => s.Type, StringComparer.OrdinalIgnoreCase);

    /// <summary>Keys the gateway reads from the configuration itself, not through an options class.</summary>
    public static readonly IReadOnlySet<string> ReadDirectly = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        LoggingExtensions.LogFormatKey,
        CallbackExtensions.BareBenchEndpointKey,
        TelemetryExtensions.OtlpEndpointKey,
    };

    /// <summary>
    /// Keys of other components, set beside the gateway's: Serilog's levels, ASP.NET Core's and .NET's own settings,
    /// the OpenTelemetry SDK's <c>OTEL_*</c>, and the PostgreSQL container's <c>POSTGRES_*</c> in the compose file.
    /// </summary>
    public static readonly IReadOnlyList<string> OtherComponents = ["Serilog:", "Logging:", "AllowedHosts", "ConnectionStrings:", "ASPNETCORE_", "DOTNET_", "OTEL_", "POSTGRES_"];

    /// <summary>
    /// Whether a key, in either form (<c>Gateway:Storage:Provider</c>, <c>Gateway__Storage__Provider</c>), is an option,
    /// read by the gateway itself, or another component's; <c>N</c> and <c>&lt;…&gt;</c> stand for a list's entry, <c>*</c>
    /// for every key of a section. Any other is one the gateway would ignore without a word.
    /// </summary>
    public static bool IsRead(string key)
    {
        var path = key.Split(["__", ":"], StringSplitOptions.None);
        var written = string.Join(':', path);
        if (OtherComponents.Any(prefix => written.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) || ReadDirectly.Contains(written))
        {
            return true;
        }

        path = [.. path.Select(segment => segment == "N" || segment.StartsWith('<') ? "0" : segment)];
        return IsOption(path[^1] == "*" ? path[..^1] : path);
    }

    /// <summary>
    /// <c>Gateway__Storage__Provider</c> names a property path under the options class bound to the longest section
    /// that prefixes it (<c>Gateway</c>, <c>Gateway:Callbacks</c>, …), or a section itself; a number is an entry of a list.
    /// </summary>
    public static bool IsOption(string[] path)
    {
        for (var prefix = path.Length; prefix > 0; prefix--)
        {
            if (Sections.TryGetValue(string.Join(':', path[..prefix]), out var type))
            {
                return Resolves(type, path[prefix..]);
            }
        }

        return false;
    }

    /// <summary>
    /// Every key an operator can set, <c>Section:Property</c> down to a value or a list (<c>DingTalk:Callback:ApiSecret</c>,
    /// <c>Gateway:AdminApiKeys</c>), with its property and its default: what a new options object holds.
    /// </summary>
    public static IEnumerable<(string Key, PropertyInfo Property, object? Default)> Options() =>
        Sections.SelectMany(s => Values(s.Key, Activator.CreateInstance(s.Value)!));

    /// <summary>What <paramref name="options"/>, bound from <paramref name="section"/>, holds for each of its keys.</summary>
    public static IEnumerable<(string Key, PropertyInfo Property, object? Value)> Values(string section, object options) =>
        Leaves(section, options.GetType(), options);

    private static IEnumerable<(string Key, PropertyInfo Property, object? Default)> Leaves(string key, Type type, object? instance)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }))
        {
            var value = instance is null ? null : property.GetValue(instance);
            var child = $"{key}:{property.Name}";
            if (IsSection(property.PropertyType))
            {
                foreach (var leaf in Leaves(child, property.PropertyType, value))
                {
                    yield return leaf;
                }
            }
            else
            {
                yield return (child, property, value);
            }
        }
    }

    /// <summary>A class of the gateway's own, bound property by property (<see cref="StorageOptions"/>), not a value or a list.</summary>
    private static bool IsSection(Type type) => type.IsClass && type.Assembly == typeof(CallbackPipeline).Assembly;

    private static bool Resolves(Type type, string[] rest)
    {
        if (rest.Length == 0)
        {
            return true;
        }

        if (int.TryParse(rest[0], out _) && type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type))
        {
            return Resolves(type.IsArray ? type.GetElementType()! : type.GetGenericArguments()[0], rest[1..]);
        }

        var property = type.GetProperty(rest[0], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        return property is { CanWrite: true } && Resolves(property.PropertyType, rest[1..]);
    }
}
