using System.ComponentModel.DataAnnotations;

namespace DingTalk.CardGateway.Handlers.Typewriter;

/// <summary>
/// The <c>Gateway:Handlers:Llm</c> section: the OpenAI-compatible model the typewriter asks (DashScope/Qwen, DeepSeek,
/// Azure OpenAI's v1 endpoint, Ollama, vLLM, OpenAI itself). Unset, the typewriter echoes. <see cref="SystemPrompt"/>,
/// <see cref="MaxOutputTokens"/> and <see cref="Temperature"/> also apply to an <c>IChatClient</c> registered in DI.
/// </summary>
public sealed class LlmOptions
{
    public const string Section = "Gateway:Handlers:Llm";

    /// <summary>The API's base URL, the part before <c>/chat/completions</c>: <c>https://dashscope.aliyuncs.com/compatible-mode/v1</c>, <c>http://localhost:11434/v1</c>.</summary>
    public string? Endpoint { get; set; }

    /// <summary>Sent as <c>Authorization: Bearer …</c>; a secret, never logged. Required unless the endpoint is on this machine (Ollama).</summary>
    public string? ApiKey { get; set; }

    /// <summary>The model asked (<c>qwen-plus</c>, <c>deepseek-chat</c>, <c>llama3.2</c>); required with <see cref="Endpoint"/>.</summary>
    public string? Model { get; set; }

    /// <summary>Sent before each question as the system message; none when empty.</summary>
    public string? SystemPrompt { get; set; }

    /// <summary>The longest reply, in tokens; the model's own limit when unset.</summary>
    [Range(1, 1_000_000)]
    public int? MaxOutputTokens { get; set; }

    /// <summary>Sampling temperature; the model's default when unset.</summary>
    [Range(0.0, 2.0)]
    public float? Temperature { get; set; }

    /// <summary>The endpoint as a URL; null when none is set (blank counts as none: appsettings.json leaves it empty).</summary>
    internal Uri? EndpointUri =>
        string.IsNullOrWhiteSpace(Endpoint) ? null : Uri.TryCreate(Endpoint.Trim(), UriKind.Absolute, out var uri) ? uri : null;

    /// <summary>Whether an endpoint is configured at all, usable or not.</summary>
    internal bool HasEndpoint => !string.IsNullOrWhiteSpace(Endpoint);
}
