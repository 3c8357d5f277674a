using System.Security.Cryptography;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http;

namespace DingTalk.Sandbox;

/// <summary>
/// <c>GET {prefix}/</c>: one self-contained page that lists the emulator's cards and clicks them through
/// <c>POST {prefix}/clicks</c>. Card data comes from whoever called the emulator, so the page only ever sets it as
/// text, and its Content-Security-Policy allows nothing but its own nonce'd script and style and calls to this origin.
/// </summary>
internal static class SandboxPage
{
    private static readonly string Template = Load();

    public static IResult Serve(HttpContext context, string prefix)
    {
        var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy =
            $"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
            + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers.CacheControl = "no-store";
        headers["Referrer-Policy"] = "no-referrer";
        var html = Template.Replace("{{nonce}}", nonce, StringComparison.Ordinal)
            .Replace("{{base}}", HtmlEncoder.Default.Encode(prefix), StringComparison.Ordinal);
        return Results.Content(html, "text/html; charset=utf-8");
    }

    private static string Load()
    {
        using var stream = typeof(SandboxPage).Assembly.GetManifestResourceStream("DingTalk.Sandbox.Page.sandbox.html")
            ?? throw new InvalidOperationException("The sandbox page is not embedded in DingTalk.Sandbox.dll.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
