using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>A callback body read whole, up to a limit; past it, or unreadable, a problem to answer instead.</summary>
/// <param name="Bytes">The body, when it was read.</param>
/// <param name="Problem">The answer instead, when it was not.</param>
/// <param name="Reason">Why not, in one word for logs and metrics: <c>TooLarge</c> or <c>UnreadableBody</c>.</param>
public readonly record struct CallbackBody(ReadOnlyMemory<byte> Bytes, ProblemHttpResult? Problem, string? Reason = null)
{
    public static async Task<CallbackBody> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return TooLarge(maxBytes);
        }

        // Kestrel then stops reading at the limit too, whatever the framing (chunked bodies have no length).
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        var reader = request.BodyReader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(cancellationToken);
                if (read.Buffer.Length > maxBytes)
                {
                    reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                    return TooLarge(maxBytes);
                }

                if (read.IsCompleted || read.IsCanceled)
                {
                    var bytes = read.Buffer.ToArray();
                    reader.AdvanceTo(read.Buffer.End);
                    return new CallbackBody(bytes, null);
                }

                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End); // nothing consumed: wait for the rest
            }
        }
        catch (BadHttpRequestException bad) when (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(maxBytes);
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException or InvalidOperationException)
        {
            return new CallbackBody(
                default,
                TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Unreadable body", detail: "The request body could not be read to its end."),
                "UnreadableBody");
        }
    }

    private static CallbackBody TooLarge(int maxBytes) => new(
        default,
        TypedResults.Problem(
            statusCode: StatusCodes.Status413PayloadTooLarge,
            title: "Request body too large",
            detail: $"Card callback bodies are limited to {maxBytes} bytes (Gateway:Callbacks:MaxBodyBytes)."),
        "TooLarge");
}
