using System.Text.Json.Nodes;
using DingTalk.Sandbox.Wire;
using Microsoft.AspNetCore.Http;

namespace DingTalk.Sandbox.Apis;

/// <summary>PUT /v1.0/card/streaming: typewriter frames; the guid makes a retried frame count once.</summary>
internal static class StreamingApi
{
    public static SandboxAnswer StreamingUpdate(SandboxCall call, SandboxState state)
    {
        if (call.ReadBody(DingTalkSchemas.StreamingUpdate, out var body) is { } invalid)
        {
            return invalid;
        }

        if (body.Flag("isFull") is not { } isFull)
        {
            return SandboxAnswer.Error(StatusCodes.Status400BadRequest, "param.stream.isFull", "isFull is mandatory: true sends the whole text, false appends");
        }

        var outTrackId = body.Text("outTrackId")!;
        if (!state.CardRecords.TryGetValue(outTrackId, out var card))
        {
            return SandboxAnswer.CardNotExist(outTrackId);
        }

        var guid = body.Text("guid")!;
        if (!card.FrameGuids.Contains(guid))
        {
            var now = state.Time.GetUtcNow();
            var pace = state.Options.StreamingMinInterval;
            if (pace > TimeSpan.Zero && card.LastFrameAt is { } last && now - last < pace)
            {
                // DingTalk publishes no body for this 403; the code is the sandbox's choice.
                return SandboxAnswer.Error(
                    StatusCodes.Status403Forbidden,
                    "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                    $"streaming frames to one card must be at least {pace.TotalMilliseconds} ms apart");
            }

            card.FrameGuids.Add(guid);
            card.LastFrameAt = now;
            card.Frames.Add(new StreamingFrame(
                guid,
                body.Text("key")!,
                body.Text("content")!,
                isFull,
                body.Flag("isFinalize") ?? false,
                body.Flag("isError") ?? false));
            state.CardsChanged();
        }

        return SandboxAnswer.Ok(new JsonObject { ["success"] = true, ["result"] = true });
    }
}
