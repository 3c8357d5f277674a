using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Handlers.Typewriter;

/// <summary>Range checks from the data annotations on <see cref="LlmOptions"/>, source-generated.</summary>
[OptionsValidator]
public sealed partial class LlmOptionsRangeValidator : IValidateOptions<LlmOptions>;

/// <summary>What a configured model cannot be asked without; each failure names the configuration key, never the API key's value.</summary>
public sealed class LlmOptionsValidator : IValidateOptions<LlmOptions>
{
    public ValidateOptionsResult Validate(string? name, LlmOptions options)
    {
        if (!options.HasEndpoint)
        {
            return ValidateOptionsResult.Success; // the echo source, or an IChatClient of the application's own
        }

        if (options.EndpointUri is not { } endpoint || (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp))
        {
            return ValidateOptionsResult.Fail(Sentence(
                "Endpoint", $"must be an absolute http(s) URL such as https://dashscope.aliyuncs.com/compatible-mode/v1, not '{options.Endpoint}'"));
        }

        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Model))
        {
            failures.Add(Sentence("Model", "is required with Gateway:Handlers:Llm:Endpoint: the model to ask, such as qwen-plus or llama3.2"));
        }

        if (string.IsNullOrWhiteSpace(options.ApiKey) && !endpoint.IsLoopback)
        {
            failures.Add(Sentence(
                "ApiKey",
                $"is required with Gateway:Handlers:Llm:Endpoint at {endpoint.Host}: only a model on this machine (localhost, such as Ollama) is asked without one"));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Sentence(string key, string problem)
    {
        var full = $"{LlmOptions.Section}:{key}";
        return $"{full} ({full.Replace(":", "__", StringComparison.Ordinal)}) {problem}.";
    }
}
