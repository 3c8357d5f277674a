using DingTalk.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// The fake DingTalk OpenAPI (<see cref="DingTalk.Sandbox"/>) on a real Kestrel socket at 127.0.0.1 and a
/// random port, so the gateway's real HttpClient stack (and the official Node SDK) talk to it over the wire.
/// </summary>
public sealed class FakeDingTalk : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeDingTalk(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        State = app.Services.GetRequiredService<SandboxState>();
        Options = app.Services.GetRequiredService<SandboxOptions>();
    }

    /// <summary>Where the fake listens, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; }

    public SandboxState State { get; }

    public SandboxOptions Options { get; }

    /// <summary>
    /// How long to hold back the answer to a request (null or zero: none), asked as it arrives. The request is carried out
    /// at once; only its answer is late, as when DingTalk is slow to answer a call it has done — past the caller's
    /// timeout, the caller sees no answer at all.
    /// </summary>
    public Func<HttpMethod, string, TimeSpan>? AnswerDelay { get; set; }

    /// <summary>
    /// An answer to send instead of the fake's own (null: none), asked as a request arrives, before the request is carried
    /// out: for answers DingTalk's own errors do not cover, such as a proxy's HTML page or a 200 whose body is not JSON.
    /// </summary>
    public Func<HttpMethod, string, RawAnswer?>? AnswerInstead { get; set; }

    /// <param name="configure">App credentials and token lifetime.</param>
    /// <param name="timeProvider">The sandbox's clock (token expiry, request times); the system clock by default.</param>
    public static async Task<FakeDingTalk> StartAsync(Action<SandboxOptions>? configure = null, TimeProvider? timeProvider = null)
    {
        var builder = LoopbackApp.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        if (timeProvider is not null)
        {
            builder.Services.AddSingleton(timeProvider);
        }

        builder.Services.AddDingTalkSandbox(configure);

        var app = builder.Build();
        FakeDingTalk? fake = null;
        app.Use(async (context, next) =>
        {
            if (fake?.AnswerInstead?.Invoke(HttpMethod.Parse(context.Request.Method), context.Request.Path.Value ?? "") is { } instead)
            {
                context.Response.StatusCode = instead.Status;
                context.Response.ContentType = instead.ContentType;
                await context.Response.WriteAsync(instead.Body, context.RequestAborted);
                return;
            }

            var delay = fake?.AnswerDelay?.Invoke(HttpMethod.Parse(context.Request.Method), context.Request.Path.Value ?? "") ?? TimeSpan.Zero;
            if (delay <= TimeSpan.Zero)
            {
                await next(context);
                return;
            }

            await HoldAnswerAsync(context, next, delay);
        });
        app.MapDingTalkSandbox("");
        await app.StartAsync();

        return fake = new FakeDingTalk(app, new Uri(LoopbackApp.Address(app).TrimEnd('/') + "/"));
    }

    /// <summary>A plain client with <see cref="BaseAddress"/> set; the caller disposes it.</summary>
    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Runs the request with its answer kept in memory, then sends that answer <paramref name="delay"/> later.</summary>
    private static async Task HoldAnswerAsync(HttpContext context, RequestDelegate next, TimeSpan delay)
    {
        var wire = context.Response.Body;
        using var held = new MemoryStream();
        context.Response.Body = held;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = wire;
        }

        try
        {
            await Task.Delay(delay, context.RequestAborted);
            held.Position = 0;
            await held.CopyToAsync(wire, context.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The caller gave up waiting: the call was carried out all the same.
        }
    }

    /// <summary>An answer as it goes on the wire: status, content type and body, whatever they are.</summary>
    public sealed record RawAnswer(int Status, string ContentType, string Body);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
