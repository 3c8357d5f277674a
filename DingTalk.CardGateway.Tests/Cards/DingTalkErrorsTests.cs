using System.Net;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Tests.Cards;

public class DingTalkErrorsTests
{
    [Theory]
    [InlineData(400, "InvalidAuthentication", DingTalkErrorKind.InvalidToken)]
    [InlineData(401, null, DingTalkErrorKind.InvalidToken)]
    [InlineData(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", DingTalkErrorKind.Transient)]
    [InlineData(403, "Forbidden.AccessDenied.QpsLimitForApi", DingTalkErrorKind.Transient)]
    [InlineData(403, "Forbidden.AccessDenied.QpmLimitForAppkeyAndApi", DingTalkErrorKind.Transient)]
    [InlineData(429, "system.busy", DingTalkErrorKind.Transient)]
    [InlineData(500, "unknownError", DingTalkErrorKind.Transient)]
    [InlineData(503, null, DingTalkErrorKind.Transient)]
    [InlineData(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", DingTalkErrorKind.Refused)]
    [InlineData(403, "Forbidden.AccessDenied.ApiCountLimitForOrg", DingTalkErrorKind.Refused)]
    [InlineData(400, "invalidClientIdOrSecret", DingTalkErrorKind.Refused)]
    [InlineData(400, "param.cardNotExist", DingTalkErrorKind.NotFound)]
    [InlineData(400, "param.templateNotExist", DingTalkErrorKind.NotFound)]
    [InlineData(400, "AuthenticationFailed.MissingParameter", DingTalkErrorKind.BadRequest)]
    [InlineData(400, "param.stream.isFull", DingTalkErrorKind.BadRequest)]
    public void DingTalk_answers_are_classified_as_the_wire_contract_says(int status, string? code, DingTalkErrorKind expected) =>
        Assert.Equal(expected, DingTalkErrors.Classify((HttpStatusCode)status, code));

    [Theory]
    [InlineData("30", null, 30)]
    [InlineData(null, 45, 45)]   // a date, 45 s after the answer's own Date: read against it, wherever the local clock is
    [InlineData(null, -10, 0)]   // a date already past: no wait
    public void Retry_After_as_seconds_or_a_date_is_the_wait_DingTalk_asked_for(string? seconds, int? dateAfterAnswer, int expectedSeconds)
    {
        var answeredAt = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero); // far from now: the local clock would read a date as long past
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.Date = answeredAt;
        if (seconds is not null)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", seconds);
        }
        else
        {
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(answeredAt.AddSeconds(dateAfterAnswer!.Value));
        }

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), DingTalkErrorReader.RetryAfterOf(response));
    }

    [Theory]
    [InlineData("text/html", "<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>", "text/html")]
    [InlineData("text/plain", "upstream connect error or disconnect/reset before headers", "text/plain")]
    [InlineData(null, "", "no body")]
    public async Task A_refusal_whose_body_is_not_DingTalks_JSON_says_so_naming_its_content_type_and_the_call(string? contentType, string body, string said)
    {
        // A proxy or a load balancer in front of DingTalk (or of the gateway's way out) answers for it: no code, no request id.
        using var response = new HttpResponseMessage(HttpStatusCode.BadGateway)
        {
            Content = contentType is null ? new ByteArrayContent([]) : new StringContent(body, System.Text.Encoding.UTF8, contentType),
            RequestMessage = new HttpRequestMessage(HttpMethod.Put, "https://api.dingtalk.com/v1.0/card/instances"),
        };

        var refusal = await DingTalkErrorReader.ToExceptionAsync(response, new DingTalk.CardGateway.Hosting.SecretMasker(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build()), CancellationToken.None);

        Assert.Null(refusal.Code);
        Assert.Contains(said, refusal.Message, StringComparison.Ordinal);
        Assert.Contains("not DingTalk's", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("PUT /v1.0/card/instances", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(DingTalkErrorKind.Transient, DingTalkErrors.Classify(refusal.StatusCode, refusal.Code));
    }

    [Fact]
    public void No_Retry_After_asks_no_wait()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        Assert.Null(DingTalkErrorReader.RetryAfterOf(response));
    }
}
