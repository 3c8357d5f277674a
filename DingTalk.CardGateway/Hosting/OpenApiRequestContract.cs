using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Admin;
using Microsoft.AspNetCore.Mvc.Infrastructure;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// What the code says of a request, written into the OpenAPI document so Swagger UI pre-fills and checks what the
/// endpoints take: a body's example (<see cref="IExampleBody{TSelf}"/>) and the defaults of a fresh one, the fields and
/// query parameters an endpoint refuses to go without (<see cref="RequiredAttribute"/>), and the values a string takes
/// (<see cref="AllowedValuesAttribute"/>). The endpoints check these themselves; the attributes describe them.
/// </summary>
internal static class OpenApiRequestContract
{
    public static Task DescribeSchemaAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonPropertyInfo is { AttributeProvider: { } attributes })
        {
            Describe(schema, attributes);
            return Task.CompletedTask;
        }

        foreach (var required in context.JsonTypeInfo.Properties.Where(p => p.AttributeProvider?.IsDefined(typeof(RequiredAttribute), inherit: false) == true))
        {
            (schema.Required ??= new HashSet<string>()).Add(required.Name);
        }

        if (Example(context.JsonTypeInfo.Type) is not { } example)
        {
            return Task.CompletedTask;
        }

        schema.Examples = [example];

        // A fresh body's switches are what the endpoint assumes when one is left out.
        var fresh = Activator.CreateInstance(context.JsonTypeInfo.Type)!;
        foreach (var flag in context.JsonTypeInfo.Properties.Where(p => p.PropertyType == typeof(bool) && p.Get is not null))
        {
            if (schema.Properties is { } properties && properties.TryGetValue(flag.Name, out var field) && field is OpenApiSchema described)
            {
                described.Default = JsonValue.Create((bool)flag.Get!(fresh)!);
            }
        }

        return Task.CompletedTask;
    }

    public static Task DescribeOperationAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
        {
            if (context.Description.ParameterDescriptions.FirstOrDefault(p => p.Name == parameter.Name)?.ParameterDescriptor
                is IParameterInfoParameterDescriptor { ParameterInfo: { } info })
            {
                parameter.Required |= info.IsDefined(typeof(RequiredAttribute), inherit: false);
                if (parameter.Schema is OpenApiSchema schema)
                {
                    Describe(schema, info);
                }
            }
        }

        // The body's example on the operation too: what Swagger UI's "Try it out" pre-fills.
        var body = context.Description.ParameterDescriptions.FirstOrDefault(p => p.Source == BindingSource.Body)?.Type;
        if (body is not null && Example(body) is { } example && operation.RequestBody?.Content is { } content)
        {
            foreach (var media in content.Values.OfType<OpenApiMediaType>())
            {
                media.Example = example.DeepClone();
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The example of a request body type, as JSON; null for a type that gives none.</summary>
    private static JsonNode? Example(Type type) =>
        type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IExampleBody<>))
            ? JsonSerializer.SerializeToNode(type.GetProperty("Example", BindingFlags.Public | BindingFlags.Static)!.GetValue(null), type, GatewayJson.Options)
            : null;

    private static void Describe(OpenApiSchema schema, ICustomAttributeProvider attributes)
    {
        if (attributes.IsDefined(typeof(RequiredAttribute), inherit: false) && schema.Type is { } type)
        {
            schema.Type = type & ~JsonSchemaType.Null;
        }

        if (attributes.GetCustomAttributes(typeof(AllowedValuesAttribute), inherit: false) is [AllowedValuesAttribute allowed, ..])
        {
            schema.Type = JsonSchemaType.String;
            schema.Enum = [.. allowed.Values.Select(v => (JsonNode)JsonValue.Create(v?.ToString())!)];
        }
    }
}
