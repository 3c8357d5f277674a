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
        Sections.SelectMany(s => Leaves(s.Key, s.Value, Activator.CreateInstance(s.Value)));

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
