using System.Net;
using System.Text;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary><c>X-Correlation-Id</c>: the caller's id (or one made up) comes back on every answer, errors included.</summary>
public class CorrelationIdTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    [Fact]
    public async Task A_callers_id_comes_back_on_a_success()
    {
        using var response = await SendAsync(HttpMethod.Get, "/health/live", "ticket-42");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ticket-42", Echoed(response));
    }

    [Theory]
    [InlineData("{\"cardTemplateId\":", HttpStatusCode.BadRequest)] // answered by the exception handler, which clears the response first
    [InlineData("{\"cardTemplateId\":\"t\"}", HttpStatusCode.BadRequest)] // a validation problem
    public async Task A_callers_id_comes_back_on_an_error_problem(string body, HttpStatusCode status)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/cards", "ticket-43", body);

        await HttpAssert.ProblemAsync(response, status);
        Assert.Equal("ticket-43", Echoed(response));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("has spaces and a ; semicolon")]
    [InlineData("an-id-far-longer-than-sixty-four-characters-which-nobody-needs-to-correlate-anything")]
    public async Task Without_a_usable_id_the_request_gets_one_of_its_own(string? sent)
    {
        using var response = await SendAsync(HttpMethod.Get, "/health/live", sent);

        var echoed = Echoed(response);
        Assert.False(string.IsNullOrEmpty(echoed));
        Assert.NotEqual(sent, echoed);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? correlationId, string? json = null)
    {
        using var client = fixture.Gateway.CreateAdminClient();
        using var request = new HttpRequestMessage(method, path);
        if (correlationId is not null)
        {
            request.Headers.TryAddWithoutValidation(LoggingExtensions.CorrelationHeader, correlationId);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return await client.SendAsync(request);
    }

    private static string? Echoed(HttpResponseMessage response) =>
        response.Headers.TryGetValues(LoggingExtensions.CorrelationHeader, out var values) ? values.Single() : null;
}
