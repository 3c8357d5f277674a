using DingTalk.CardGateway.Admin;
using Microsoft.OpenApi;

namespace DingTalk.CardGateway.Hosting;

public static class OpenApiExtensions
{
    /// <summary>
    /// The OpenAPI document of <c>/api</c>, with the <c>X-Api-Key</c> scheme so Swagger UI can send, and what each request
    /// takes (<see cref="OpenApiRequestContract"/>): examples it can send as they are, required fields, allowed values.
    /// </summary>
    public static IServiceCollection AddGatewayOpenApi(this IServiceCollection services)
    {
        services.AddOpenApi(options => options
            .AddSchemaTransformer(OpenApiRequestContract.DescribeSchemaAsync)
            .AddOperationTransformer(OpenApiRequestContract.DescribeOperationAsync)
            .AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "DingTalk Card Gateway";
            document.Info.Description = "Send and update DingTalk cards. Every /api call needs the X-Api-Key header.";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[ApiKeyAuthenticationHandler.SchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ApiKeyAuthenticationHandler.HeaderName,
                Description = "One of Gateway:AdminApiKeys (in Sandbox mode without keys: sandbox).",
            };
            document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyAuthenticationHandler.SchemeName, document)] = [] }];
            return Task.CompletedTask;
        }));
        return services;
    }

    /// <summary><c>/openapi/v1.json</c> and Swagger UI at <c>/swagger</c>.</summary>
    public static WebApplication UseGatewaySwagger(this WebApplication app)
    {
        app.MapOpenApi();
        app.UseSwaggerUI(o =>
        {
            o.SwaggerEndpoint("/openapi/v1.json", "DingTalk Card Gateway");
            o.RoutePrefix = "swagger";
        });
        return app;
    }
}
