using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Stream;

if (HealthCheckCommand.IsRequested(args))
{
    return await HealthCheckCommand.RunAsync(args, Console.Out);
}

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = ContentRoot.Find() });

builder.AddGatewayLogging();
builder.AddGatewayTelemetry();
builder.Services.AddGatewayOptions();
builder.Services.AddGatewayErrorHandling();
builder.Services.AddDingTalkClients();
builder.Services.AddGatewayStorage();
builder.Services.AddCardCallbacks();
builder.Services.AddDingTalkStream();
builder.Services.AddCardHandlers();
builder.Services.AddAdminApi();
builder.Services.AddGatewayOpenApi();
builder.Services.AddGatewayHealth();
builder.Services.AddGatewaySandbox(builder.Configuration);

var app = builder.Build();

app.UseGatewayRequestLogging();
app.UseGatewayErrorHandling();
app.UseAuthentication();
app.UseAuthorization();
app.UseGatewaySwagger();

app.MapCardCallbacks();
app.MapAdminApi();
app.MapGatewayHealth();
app.MapGatewaySandbox();

return await app.RunGatewayAsync();

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
