using System.Text.Json;

namespace DingTalk.CardGateway.Benchmarks;

/// <summary>A poll vote as DingTalk posts it (dingtalk-wire.md §2), the same shape bench/callbacks.lua sends.</summary>
internal static class Votes
{
    private static readonly string[] ActionIds = ["vote_btn"];

    public static string Body(string outTrackId, string userId, string option, long seq) =>
        JsonSerializer.Serialize(new
        {
            type = "actionCallback",
            outTrackId,
            corpId = "dingBench",
            userId,
            userIdType = 1,
            spaceType = "im",
            spaceId = "cidBench==",
            content = JsonSerializer.Serialize(new
            {
                cardPrivateData = new { actionIds = ActionIds, @params = new { action = "vote", option, seq = seq.ToString(System.Globalization.CultureInfo.InvariantCulture) } },
            }),
        });
}
