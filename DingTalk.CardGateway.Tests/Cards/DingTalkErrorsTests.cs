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
}
