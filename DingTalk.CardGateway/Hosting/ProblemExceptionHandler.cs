using System.Data.Common;
using System.Net;
using System.Text.Json.Serialization.Metadata;
using DingTalk.CardGateway.Cards;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// Turns every exception that reaches the top into RFC 7807 problem details, never a stack trace:
/// bad requests keep their 4xx, DingTalk's errors keep DingTalk's code, a database that fails is a 503 to retry,
/// anything else is a plain 500.
/// </summary>
public sealed partial class ProblemExceptionHandler(
    IProblemDetailsService problems,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> jsonOptions,
    ILogger<ProblemExceptionHandler> logger,
    Storage.Sql.GatewayDatabase? database = null,
    Storage.Sql.RefusedRequests? refusedRequests = null) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // Refit wraps what the handlers below it throw before any answer, such as DingTalk refusing the token call (a bad
        // AppSecret): that is DingTalk's refusal with its code, not "DingTalk unreachable, try again".
        if (DingTalkErrors.CauseOf(exception) is DingTalkApiException refused)
        {
            exception = refused;
        }
        else if (Storage.Sql.StorageFailure.Of(exception) is { } storageFailure)
        {
            // A transaction Npgsql disposed when its connection broke (a server restarting under a click) is the database's
            // failure, said in its words: a 503 to retry, not a 500.
            exception = storageFailure;
        }

        var (status, title, detail, extensions) = exception is InvalidOperationException && HasUnknownCharset(httpContext.Request)
            ? (StatusCodes.Status415UnsupportedMediaType, "Unsupported Media Type", "The body's charset is not one the gateway reads: send the JSON as UTF-8 (Content-Type: application/json).", [])
            : Describe(exception, httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint);
        if (exception is DingTalkApiException dingTalk)
        {
            Log.DingTalkRefused(logger, httpContext.Request.Method, httpContext.Request.Path, (int)dingTalk.StatusCode, dingTalk.Code, dingTalk.DingTalkMessage, dingTalk.RequestId, status);
        }
        else if (IsCallersValue(exception))
        {
            // The caller's to fix (a NUL, a card id thousands of characters long), not the database failing: no operator's
            // alarm, and the status said is the one answered.
            Log.ValueRefused(logger, httpContext.Request.Method, httpContext.Request.Path, exception.GetType().Name, exception.Message);
        }
        else if (exception is DbException storage)
        {
            // The database's own sentence says what is wrong (a full disk, a missing table, a refused login); the
            // stack would only say where the gateway asked. Once a run: while the database is away every request fails alike.
            if (refusedRequests?.Failed() ?? true)
            {
                Log.StorageFailed(logger, httpContext.Request.Method, httpContext.Request.Path, storage.GetType().Name, storage.Message);
            }

            database?.Writes.Failed(storage); // readiness says it too, a database that refuses writes (StorageHealthCheck)
        }
        else if (IsUnreachable(exception))
        {
            // Not the gateway's fault, and handled: DingTalk (or the network to it) did not answer, even after the retries.
            var reason = DingTalkErrors.CauseOf(exception);
            Log.DingTalkUnreachable(logger, httpContext.Request.Method, httpContext.Request.Path, reason.GetType().Name, reason.Message);
        }
        else if (status >= 500)
        {
            Log.Unhandled(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        }

        httpContext.Response.StatusCode = status;
        // Every 503 that says "try again": a database that failed, and DingTalk still throttled or overloaded (403 QpsLimit…,
        // 429, 5xx) after the retries.
        if ((exception is DbException && !IsCallersValue(exception)) || exception is DingTalkApiException { Kind: DingTalkErrorKind.Transient })
        {
            httpContext.Response.Headers.RetryAfter = "1";
        }

        var context = new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        };
        foreach (var (key, value) in extensions)
        {
            context.ProblemDetails.Extensions[key] = value;
        }

        return await problems.TryWriteAsync(context);
    }

    /// <summary>
    /// A JSON body whose Content-Type names a charset .NET has no encoding for (<c>application/json; charset=latin-1</c>):
    /// minimal APIs' body reader throws an <see cref="InvalidOperationException"/> for it, which is the caller's 415, not
    /// the gateway's 500. Read from the request, not the exception's words.
    /// </summary>
    private static bool HasUnknownCharset(HttpRequest request)
    {
        if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || type.Charset.Value is not { Length: > 0 } charset)
        {
            return false;
        }

        try
        {
            _ = System.Text.Encoding.GetEncoding(charset.Trim('"'));
            return false;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }

    /// <summary>DingTalk did not answer: a connection refused or broken, a timeout, or the circuit open after such failures.</summary>
    private static bool IsUnreachable(Exception exception) =>
        exception is HttpRequestException or Refit.ApiRequestException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException;

    /// <summary>PostgreSQL's "invalid byte sequence" (a NUL in text) and "untranslatable character".</summary>
    private const string UnstorableCharacter = "22021";
    private const string UntranslatableCharacter = "22P05";

    /// <summary>PostgreSQL's "program limit exceeded": a value too large to store, such as a key past a third of a page in an index.</summary>
    private const string ValueTooLarge = "54000";

    /// <summary>The database refused a value the request holds: a retry would fail the same way.</summary>
    private static bool IsCallersValue(Exception exception) =>
        exception is Npgsql.PostgresException { SqlState: UnstorableCharacter or UntranslatableCharacter or ValueTooLarge };

    private (int Status, string Title, string Detail, Dictionary<string, object?> Extensions) Describe(Exception exception, Endpoint? endpoint)
    {
        switch (exception)
        {
            case BadHttpRequestException bad:
                return (bad.StatusCode, bad.StatusCode == 413 ? "Request body too large" : "Bad request", BadRequestDetail(bad, endpoint), []);
            case DingTalkApiException dingTalk:
                var extensions = new Dictionary<string, object?>
                {
                    ["dingTalkStatus"] = (int)dingTalk.StatusCode,
                    ["dingTalkCode"] = dingTalk.Code,
                    ["dingTalkRequestId"] = dingTalk.RequestId,
                };
                if (dingTalk.RequiredScopes.Count > 0)
                {
                    extensions["requiredScopes"] = dingTalk.RequiredScopes;
                }

                var status = dingTalk.Kind switch
                {
                    DingTalkErrorKind.NotFound => dingTalk.Code == "param.cardNotExist" ? 404 : 422,
                    DingTalkErrorKind.BadRequest => 422,
                    DingTalkErrorKind.Transient => 503,
                    _ => 502, // token or permission problems are the operator's to fix, not the caller's
                };
                return (status, "DingTalk refused the call", $"DingTalk answered {dingTalk.Code ?? ((int)dingTalk.StatusCode).ToString()}: {dingTalk.DingTalkMessage}", extensions);
            case Exception when IsUnreachable(exception):
                return (503, "DingTalk unreachable", "DingTalk could not be reached after retries; try again later.", []);
            case Npgsql.PostgresException { SqlState: UnstorableCharacter or UntranslatableCharacter }:
                // The one database refusal that is the caller's: a retry would fail the same way.
                return (400, "Value not storable", "A value in the request holds a character the database cannot store (U+0000); remove it.", []);
            case Npgsql.PostgresException { SqlState: ValueTooLarge }:
                return (400, "Value not storable", "A value in the request is too large for the database to store (a card id of thousands of characters, say); shorten it.", []);
            case DbException:
                // Nothing the caller sent is at fault, and the transaction rolled back: DingTalk (or the operator) may try again.
                return (503, "Storage unavailable", "The gateway could not use its database; try again shortly.", []);
            case OperationCanceledException:
                return (499, "Request cancelled", "The request was cancelled.", []);
            default:
                return (500, "Internal error", "The gateway failed to handle this request; the log has the details.", []);
        }
    }

    private string BadRequestDetail(BadHttpRequestException bad, Endpoint? endpoint)
    {
        if (bad.StatusCode == 413)
        {
            return "The request body is larger than the gateway accepts.";
        }

        // The JSON reader says where the body went wrong (path, line) without echoing the body back; .NET's type names
        // (IReadOnlyDictionary`2[…]) are said in JSON's words.
        if (bad.InnerException is System.Text.Json.JsonException json)
        {
            var sentence = FirstSentence(json.Message);
            if (ConvertedTo().Match(sentence) is { Success: true } conversion)
            {
                // A record read through its constructor names the record, not the value's type: ask the body's contract.
                var kind = JsonKindOf(conversion.Groups[1].Value)
                    ?? KindAt(json.Path, endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType)
                    ?? (endpoint?.Metadata.GetMetadata<IExcludeFromDescriptionMetadata>() is { ExcludeFromDescription: true }
                        ? "of another kind" // not in Swagger (the sandbox's routes): no schema there to point at
                        : "of another kind (see the API's schema in /swagger)");
                sentence = $"The JSON value here must be {kind}.";
            }

            sentence = OfType().Replace(sentence, ""); // "… during deserialization of type 'DingTalk.CardGateway.Admin.SendCardRequest'"

            return $"The body is not valid for this endpoint at {json.Path ?? "$"}: {sentence}";
        }

        // Minimal APIs word a missing body after the handler's parameter ("Implicit body inferred for parameter …").
        return bad.Message.Contains("body was provided", StringComparison.Ordinal) || bad.Message.Contains("Implicit body inferred", StringComparison.Ordinal)
            ? "This endpoint needs a JSON body (Content-Type: application/json)."
            : FirstSentence(bad.Message);
    }

    /// <summary>What a .NET type a JSON value failed to become is, in JSON's words; null for a type of our own.</summary>
    private static string? JsonKindOf(string type) => type switch
    {
        "System.String" or "System.Char" or "System.DateTimeOffset" or "System.DateTime" or "System.TimeSpan" or "System.Guid" => "a string",
        "System.Boolean" => "true or false",
        "System.Byte" or "System.Int16" or "System.Int32" or "System.Int64" or "System.UInt32" or "System.UInt64" or "System.Single" or "System.Double" or "System.Decimal" => "a number",
        "System.Text.Json.JsonElement" => "a JSON value",
        _ when type.Contains("Dictionary", StringComparison.Ordinal) || type.Contains("JsonObject", StringComparison.Ordinal) => "an object",
        _ when type.EndsWith("[]", StringComparison.Ordinal) || type.Contains("List", StringComparison.Ordinal) || type.Contains("Enumerable", StringComparison.Ordinal)
            || type.Contains("Collection", StringComparison.Ordinal) || type.Contains("JsonArray", StringComparison.Ordinal) => "an array",
        _ when type.StartsWith("System.Nullable`1[", StringComparison.Ordinal) => JsonKindOf(type["System.Nullable`1[".Length..^1]),
        _ => null,
    };

    /// <summary>
    /// What <paramref name="bodyType"/> holds at a JSON path (<c>$.params</c>, <c>$.userIds[0]</c>), in JSON's words, read
    /// from the serializer's own contract (its names, case-insensitive as it reads them); null when the path leads nowhere.
    /// </summary>
    private string? KindAt(string? path, Type? bodyType)
    {
        if (path is null || !path.StartsWith('$') || bodyType is null)
        {
            return null;
        }

        var options = jsonOptions.Value.SerializerOptions;
        var type = bodyType;
        var read = 1;
        foreach (System.Text.RegularExpressions.Match segment in PathSegment().Matches(path, 1))
        {
            read += segment.Length;
            var contract = options.GetTypeInfo(type);
            type = segment.Groups["index"].Success
                ? contract.Kind == JsonTypeInfoKind.Enumerable ? contract.ElementType : null
                : contract.Kind switch
                {
                    JsonTypeInfoKind.Object => contract.Properties.FirstOrDefault(p => string.Equals(p.Name, segment.Groups["name"].Value, StringComparison.OrdinalIgnoreCase))?.PropertyType,
                    JsonTypeInfoKind.Dictionary => contract.ElementType,
                    _ => null,
                };
            if (type is null)
            {
                return null;
            }
        }

        if (read != path.Length)
        {
            return null; // a segment this reading does not know: better no answer than one about another value
        }

        type = Nullable.GetUnderlyingType(type) ?? type;
        return JsonKindOf(type.FullName ?? type.Name) ?? options.GetTypeInfo(type).Kind switch
        {
            JsonTypeInfoKind.Object or JsonTypeInfoKind.Dictionary => "an object",
            JsonTypeInfoKind.Enumerable => "an array",
            _ => null,
        };
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\G(?:\.(?<name>[^.\[]+)|\['(?<name>[^']*)'\]|\[(?<index>\d+)\])")]
    private static partial System.Text.RegularExpressions.Regex PathSegment();

    [System.Text.RegularExpressions.GeneratedRegex(@"could not be converted to ([^ ]+?)\.?(?: Path:|$)")]
    private static partial System.Text.RegularExpressions.Regex ConvertedTo();

    [System.Text.RegularExpressions.GeneratedRegex(@" (?:during|for) (?:de)?serialization of type '[^']*'")]
    private static partial System.Text.RegularExpressions.Regex OfType();

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end > 0 ? message[..(end + 1)] : message;
    }

    private static partial class Log
    {
        [LoggerMessage(9001, LogLevel.Error, "Unhandled error on {Method} {Path}")]
        public static partial void Unhandled(ILogger logger, Exception exception, string method, string path);

        [LoggerMessage(9003, LogLevel.Error, "{Method} {Path}: the database failed ({ExceptionType}: {Reason}); answered 503. Said once until the database takes a request again (4141), the failures meanwhile counted")]
        public static partial void StorageFailed(ILogger logger, string method, string path, string exceptionType, string reason);

        [LoggerMessage(9005, LogLevel.Warning, "{Method} {Path}: the database refused a value in the request ({ExceptionType}: {Reason}); answered 400: the caller must change the value, a retry would fail the same way")]
        public static partial void ValueRefused(ILogger logger, string method, string path, string exceptionType, string reason);

        [LoggerMessage(9004, LogLevel.Warning, "{Method} {Path}: DingTalk could not be reached, even after the retries ({ExceptionType}: {Reason}); answered 503. Check the network path to DingTalk:ApiBaseUrl")]
        public static partial void DingTalkUnreachable(ILogger logger, string method, string path, string exceptionType, string reason);

        [LoggerMessage(9002, LogLevel.Warning, "{Method} {Path}: DingTalk answered {DingTalkStatus} {DingTalkCode} ({DingTalkMessage}, requestid {RequestId}); answering {Status}")]
        public static partial void DingTalkRefused(ILogger logger, string method, string path, int dingTalkStatus, string? dingTalkCode, string? dingTalkMessage, string? requestId, int status);
    }
}
